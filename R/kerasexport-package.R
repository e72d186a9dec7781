#' @keywords internal
"_PACKAGE"

## usethis namespace: start
#' @importFrom rlang caller_env caller_arg
## usethis namespace: end
NULL
