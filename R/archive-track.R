# track(): the models, layers and resources an archive saves.

#' Track a model or layer in an archive
#'
#' Tracked models and layers have their variables and lookup tables saved
#' with the archive. Models behind an endpoint are tracked on their own;
#' track explicitly for lookup layers (`StringLookup`, `TextVectorization`,
#' `IntegerLookup`) and to find the model's variables as `variables` on the
#' reloaded artifact.
#'
#' @param archive An archive from [export_archive()].
#' @param resource A built Keras model or layer, or a TensorFlow trackable
#'   resource such as a lookup table.
#' @returns The archive, invisibly, so calls can be piped.
#' @section Errors:
#' `kerasexport_argument_error` when `archive` is not an archive;
#' `kerasexport_model_error` when `resource` is not a Keras model, layer or
#' TensorFlow resource (and, from [write_out()], when it was never built).
#' See [kerasexport-errors].
#' @family archives
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 3) |> layer_dense(2)
#' export_archive() |> track(model)
track <- function(archive, resource) {
  check_archive(archive)
  if (!is_trackable(resource)) {
    abort_kerasexport(
      "model",
      c(
        "{.arg resource} must be a Keras model or layer, or a TensorFlow resource, not {obj_type(resource)}.",
        i = "For example {.code track(archive, model)}."
      )
    )
  }
  archive$resources <- c(archive$resources, list(resource))
  invisible(archive)
}

is_trackable <- function(x) {
  inherits(x, "keras.src.layers.layer.Layer") ||
    inherits(x, "tensorflow.python.trackable.base.Trackable")
}
