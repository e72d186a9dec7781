#' Write a model repository that Triton, TF-Serving or KServe runs as it is
#'
#' When one machine is not enough, the models [serve_artifact()] serves move
#' to an engine that runs behind a load balancer or on Kubernetes. This
#' writes the tree that engine expects from what `src` holds, with each
#' artifact's own tensor names and types:
#'
#' * `"triton"`: `out/<model>/config.pbtxt` (platform `onnxruntime_onnx`,
#'   `tensorflow_savedmodel` or backend `openvino`, `max_batch_size`,
#'   dynamic batching, CPU instances, a warm-up request) and
#'   `out/<model>/<version>/model.onnx`, `model.savedmodel/` or `model.xml` +
#'   `model.bin`. With `python_backend = TRUE`, every format (LiteRT and
#'   `.pt2` too) becomes a Python-backend model that runs the artifact with
#'   kerasexport, which must then be installed in Triton's Python.
#' * `"tfserving"`: SavedModels only, as `out/<model>/<version>/`, each with
#'   the warm-up requests TF-Serving replays on load
#'   (`assets.extra/tf_serving_warmup_requests`), plus `out/models.config`
#'   and `out/batching_parameters.txt`, for a container that mounts `out` at
#'   `/models`.
#' * `"kserve"`: `out/inferenceservices.yaml`, one `InferenceService` per
#'   model pointing at `<storage_uri>/<model>`, and `out/<model>/`, what its
#'   runtime mounts: a one-model Triton repository (ONNX, SavedModel;
#'   `kserve-tritonserver`) or OpenVINO Model Server's versions
#'   (`kserve-ovms`).
#'
#' `src` is only read; `out` is written beside itself and renamed into place
#' whole. A version in a format the engine cannot run is left out, and the
#' report says why; nothing is written when no model fits.
#'
#' @param src Path of an artifact, or of a model repository
#'   (`ROOT/<model>/<version>/`) as [serve_artifact()] reads it.
#' @param out Path of the new tree; it must not exist unless `overwrite`.
#' @param engine One of `"triton"` (default), `"tfserving"`, `"kserve"`.
#' @param ... Options, named: `max_batch_size` (default 8; 0 turns batching
#'   off), `max_queue_delay_us` (default 500), `instances` (CPU instances,
#'   default 1), `python_backend` (Triton, `TRUE`/`FALSE`), `storage_uri`
#'   (KServe, required: where `out` will be uploaded, e.g.
#'   `"s3://bucket/models"`), `cpu_request`, `cpu_limit`, `memory_request`,
#'   `memory_limit` (KServe, e.g. `"1"`, `"2Gi"`).
#' @param overwrite `TRUE` to replace an existing `out`.
#' @returns A list, invisibly: `engine`, `path`, `models` (model name to
#'   the versions written), `formats`, `skipped` (one line per version left
#'   out, saying why), `files` (the configuration files written) and
#'   `notes`. The models written and those left out are also shown as
#'   messages.
#' @section Errors:
#' Errors have class `kerasexport_error` and one of
#' `kerasexport_path_error` (`src` missing or empty, `out` exists, or `out`
#' and `src` overlap), `kerasexport_format_error` (no model in a format the
#' engine runs), `kerasexport_option_error` (an unknown option or a bad
#' value), `kerasexport_argument_error` and `kerasexport_dependency_error`
#' (no Python). See [kerasexport-errors].
#' @family serving
#' @export
#' @examplesIf kerasexport:::python_ready()
#' keras <- reticulate::import("keras")
#' model <- keras$Sequential(list(keras$Input(shape = list(4L)), keras$layers$Dense(2L)))
#' repository <- file.path(tempdir(), "models")
#' model |> export_savedmodel(file.path(repository, "dense", "1", "model.onnx"),
#'   format = "onnx", overwrite = TRUE)
#'
#' write_repository(repository, file.path(tempdir(), "triton"), overwrite = TRUE)
#' write_repository(repository, file.path(tempdir(), "kserve"), engine = "kserve",
#'   storage_uri = "s3://bucket/models", overwrite = TRUE)
write_repository <- function(src, out, engine = "triton", ..., overwrite = FALSE) {
  call <- rlang::current_env()
  check_string(src)
  check_string(out)
  check_choice(engine, c("triton", "tfserving", "kserve"), kind = "option")
  check_bool(overwrite)
  options <- repository_options(list(...), call)
  check_python(call)
  args <- c(list(path.expand(src), path.expand(out), engine = engine, overwrite = overwrite), options)
  report <- with_core(do.call(core$write_repository, args), error_call = call)
  described <- with_core(report$describe(), error_call = call)
  for (line in described$skipped) cli::cli_inform(c("!" = "Left out: {line}"))
  cli::cli_inform(c("v" = "{report$summary()}"))
  invisible(described)
}

repository_options <- function(options, call) {
  if (length(options) && (is.null(names(options)) || any(!nzchar(names(options))))) {
    abort_kerasexport("option", "Options in {.arg ...} must be named, e.g. {.code max_batch_size = 16}.", call = call)
  }
  whole <- c("max_batch_size", "max_queue_delay_us", "instances")
  for (name in intersect(names(options), whole)) {
    value <- options[[name]]
    if (!(is.numeric(value) && length(value) == 1 && !is.na(value) && value == round(value))) {
      abort_kerasexport("option", "{.arg {name}} must be a whole number, not {obj_type(value)}.", call = call)
    }
    options[[name]] <- as.integer(value)
  }
  options
}
