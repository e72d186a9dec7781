#' @keywords internal
"_PACKAGE"

## usethis namespace: start
#' @importFrom rlang caller_env caller_arg %||%
#' @importFrom stats predict
## usethis namespace: end
NULL
