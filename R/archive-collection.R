# add_variable_collection(): variables exposed by name on the reloaded archive.

#' Add a collection of variables to an archive
#'
#' The variables are saved with the archive and can be read back as an
#' attribute of the reloaded SavedModel, e.g. the optimizer's state:
#' `tf$saved_model$load(path)$optimizer_variables`.
#'
#' @inheritParams track
#' @param name The collection's name: letters, digits and underscores,
#'   starting with a letter, not used by an endpoint.
#' @param variables A list of Keras (or TensorFlow) variables, such as
#'   `model$weights` or `model$optimizer$variables`.
#' @returns The archive, invisibly, so calls can be piped.
#' @section Errors:
#' `kerasexport_endpoint_error` for a repeated or malformed `name`;
#' `kerasexport_argument_error` when `variables` is not a list of variables
#' or `archive` not an archive. See [kerasexport-errors].
#' @family archives
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 3) |> layer_dense(2)
#' export_archive() |>
#'   add_endpoint("serve", model) |>
#'   add_variable_collection("weights", model$weights)
add_variable_collection <- function(archive, name, variables) {
  check_archive(archive)
  check_archive_name(name, archive, what = "variable collection")
  if (inherits(variables, "python.builtin.list") || inherits(variables, "python.builtin.tuple")) {
    variables <- reticulate::py_to_r(variables)
  }
  is_variable <- function(v) {
    inherits(v, "keras.src.backend.common.variables.Variable") ||
      inherits(v, "tensorflow.python.ops.variables.Variable")
  }
  if (!is.list(variables) || inherits(variables, "python.builtin.object") || !all(vapply(variables, is_variable, logical(1)))) {
    abort_kerasexport(
      "argument",
      c(
        "{.arg variables} must be a list of Keras or TensorFlow variables, not {obj_type(variables)}.",
        i = "For example {.code model$weights} or {.code model$optimizer$variables}."
      )
    )
  }
  archive$variable_collections[[name]] <- variables
  invisible(archive)
}
