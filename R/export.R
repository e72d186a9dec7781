#' Export a Keras model to a verified artifact in any of Keras's formats
#'
#' Writes `object` as a TensorFlow SavedModel (for TF-Serving), an ONNX file
#' (for onnxruntime), an OpenVINO IR, a LiteRT (`.tflite`) file or a PyTorch
#' ExportedProgram (`.pt2`), whichever Keras backend it runs on. The artifact is
#' written beside `export_dir_base`, reloaded with its own runtime and compared
#' with the model's outputs, and only then renamed into place: a failed export
#' leaves `export_dir_base` as it was. One line of message reports the format,
#' backend, route, worst relative error and time; silence it with
#' [suppressMessages()]. While the export runs, a terminal (not knitr nor a
#' log) shows the step under way, "Exporting..." then "Verifying...", with
#' the time since the start; the line is cleared when the export ends.
#'
#' @param object A Keras 3 model.
#' @param export_dir_base Where to write: a directory for
#'   `format = "tf_saved_model"`, a file for the other formats. Files take any
#'   name; Keras's suffixes are conventional: `.onnx`, `.xml` (OpenVINO),
#'   `.tflite` (LiteRT), `.pt2` (`"torch"`). An OpenVINO IR is two files: the
#'   weights go beside it, named with its last suffix replaced by `.bin`
#'   (`model.xml` and `model.bin`; `model` and `model.bin`), and both land
#'   together. Missing parent directories are created, as Keras does, and
#'   removed again if the export fails.
#' @param ... Options for the format's exporter, as named arguments:
#'   `is_static` and `jax2tf_kwargs` (a named list) for SavedModels on the JAX
#'   backend; `opset_version` for ONNX; `compress_to_fp16` for OpenVINO
#'   (float16 weights, so pass a larger `rtol` too); `allow_flex` (convert
#'   with TensorFlow Select ops, which the standalone LiteRT runtime lacks)
#'   and TFLiteConverter settings such as `optimizations = list("DEFAULT")`
#'   for LiteRT; `dynamic_shapes` and `strict` for `"torch"`. Also `rtol`
#'   (default `1e-4`), the largest relative error verification accepts; and
#'   `route`, `"native"` or `"cross-backend"` to force a route (see Routes).
#'   An option that does not apply is an error that lists those that do; on
#'   the cross-backend route the worker's backend's options apply.
#' @param format `"tf_saved_model"` (default), `"onnx"`, `"openvino"`,
#'   `"litert"` or `"torch"` (a `.pt2` PyTorch ExportedProgram), Keras's
#'   names.
#' @param verbose `TRUE` to let the exporters print their logs; `NULL`
#'   (default) or `FALSE` keeps them quiet.
#' @param input_signature The inputs' shapes and dtypes; `NULL` (default)
#'   infers them from the model with an unknown batch dimension. See
#'   [input_spec()] for every accepted form.
#' @param overwrite `TRUE` to replace an existing artifact (the old one stays
#'   intact until the new one is verified); `FALSE` (default) makes an existing
#'   target an error.
#' @param verify `TRUE` (default) to reload the artifact and compare it with
#'   the model before putting it in place.
#' @param precision `"float32"` (default), `"float16"`, `"bfloat16"` or
#'   `"int8"`: a reduced-precision artifact made with the format's own
#'   toolchain and verified against a budget (see Precision). ONNX offers
#'   float16 and int8, OpenVINO all three, LiteRT float16 and int8;
#'   SavedModel and `"torch"` int8 (Keras's own `quantize("int8")`, on a
#'   copy of the model).
#' @param calibration_data Real inputs to calibrate int8 on and to measure the
#'   budget on: an array (rows first) for a one-input model, a named list of
#'   arrays by input name, a list of such batches, or a function returning
#'   the next batch on each call and `NULL` at the end. Needed for static
#'   int8 (the default `quantization`); `NULL` (default) otherwise.
#' @returns `object`, invisibly, so it can be piped.
#' @section Precision:
#' A reduced-precision export writes and verifies the float32 artifact first
#' (ONNX, OpenVINO; LiteRT's converter writes the reduced file directly),
#' reduces it with the format's toolchain (onnxconverter-common and
#' `onnxruntime.quantization`; OpenVINO's float16 compression, bfloat16
#' inference hint and NNCF; the TFLite converter), then runs it as
#' [load_artifact()] does on `calibration_data` (or generated inputs) against
#' the float model. It lands only within its budget: worst relative error
#' \eqn{\le} 1e-2 for float16 and bfloat16; for int8, top-1 agreement
#' \eqn{\ge} 0.99 where the outputs are class scores (rows summing to one),
#' else worst relative error \eqn{\le} 5e-2. Pass `rtol` or `agreement`
#' in `...` to change it, and `quantization = "dynamic"` for int8 without
#' calibration data. Over budget, the error gives the measured figures and
#' nothing is written. The one-line message reports the method, the size
#' against float32 and the figures.
#' @section Routes:
#' Every backend writes every format. The *native* route is the format's
#' exporter on the model's backend: SavedModel on TensorFlow and JAX, ONNX on
#' all three, OpenVINO on TensorFlow and PyTorch, LiteRT on TensorFlow, `.pt2`
#' on PyTorch. The *cross-backend* route saves the model to a temporary
#' `.keras` file, exports it in a separate Python process with the backend
#' that owns the format's exporter (TensorFlow for SavedModel, ONNX and
#' LiteRT, PyTorch for `.pt2`, PyTorch then TensorFlow for OpenVINO), and
#' verifies the result against the original model here. It is taken when
#' there is no native exporter (SavedModel from PyTorch, LiteRT from JAX and
#' PyTorch, `.pt2` from TensorFlow and JAX, OpenVINO from JAX), and as a
#' fallback when the native exporter fails or writes an artifact that fails
#' verification (e.g. jax2onnx on a bidirectional LSTM, OpenVINO's TensorFlow
#' converter on an LSTM).
#'
#' Verification loads the artifact as [load_artifact()] does, so what passes
#' is what users get: an OpenVINO IR compiled with
#' `{"INFERENCE_PRECISION_HINT": "f32"}` (OpenVINO's CPU plugin defaults to
#' bfloat16 on processors with bfloat16 units, and nothing in the IR changes
#' that; where a plain `openvino.Core().compile_model(path, "CPU")` rounds
#' some layers, its measured error is reported and a `kerasexport_warning`
#' says so), the standalone LiteRT interpreter (a file that needs
#' TensorFlow's Flex ops fails verification), `torch.export.load(path)$module()`
#' (every unknown dimension of the signature is dynamic). The message names
#' the route taken. The cross-backend route needs a model that can be saved
#' and reloaded: built-in layers, or custom classes registered with
#' `keras.saving.register_keras_serializable()` in an importable Python
#' module (the worker process imports it); otherwise it is a
#' `kerasexport_route_error` saying so.
#' @section keras3:
#' keras3 has an `export_savedmodel()` method of its own for Keras models (on
#' tensorflow's generic, which it re-exports) that calls `model$export()`
#' without verification. Once kerasexport is loaded, attached or only through
#' `::`, this method handles Keras models for every spelling:
#' `export_savedmodel()`, `keras3::export_savedmodel()`,
#' `tensorflow::export_savedmodel()` and `kerasexport::export_savedmodel()`,
#' whichever package loads first (kerasexport registers it again when keras3
#' or tensorflow loads later). A startup message says so once per session;
#' [suppressPackageStartupMessages()] silences it. It takes keras3's
#' arguments, so scripts written for keras3 keep working; keras3's own
#' export stays available as `model$export(path)`.
#' @section Errors:
#' Errors have class `kerasexport_error` and one of
#' `kerasexport_model_error` (not a Keras model, or never built),
#' `kerasexport_format_error`, `kerasexport_option_error`,
#' `kerasexport_signature_error`, `kerasexport_path_error` (target exists,
#' a parent that is a file, not writable, wrong type), `kerasexport_route_error`,
#' `kerasexport_dependency_error`, `kerasexport_verification_error` and
#' `kerasexport_argument_error`. See [kerasexport-errors].
#' @family exporting
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 4) |> layer_dense(2)
#' dir <- tempfile()
#' model |> export_savedmodel(file.path(dir, "model"))
#'
#' # ONNX, with an explicit signature (keras3's shape(), or input_spec())
#' model |> export_savedmodel(
#'   file.path(dir, "model.onnx"),
#'   format = "onnx",
#'   input_signature = list(shape(NA, 4))
#' )
#'
#' # OpenVINO (model.xml and model.bin), LiteRT, and a .pt2 ExportedProgram
#' model |> export_savedmodel(file.path(dir, "model.xml"), format = "openvino")
#' model |> export_savedmodel(file.path(dir, "model.tflite"), format = "litert")
#' model |> export_savedmodel(file.path(dir, "model.pt2"), format = "torch")
#'
#' # Replace an artifact; force the cross-backend route (a TensorFlow worker)
#' model |> export_savedmodel(file.path(dir, "model"), overwrite = TRUE, route = "cross-backend")
#'
#' # keras3's own, unverified export
#' model$export(file.path(dir, "unverified"), verbose = FALSE)
export_savedmodel <- function(object, export_dir_base, ...) {
  UseMethod("export_savedmodel")
}

#' @rdname export_savedmodel
#' @export
export_savedmodel.default <- function(object, export_dir_base, ...) {
  abort_kerasexport(
    "model",
    c(
      "{.arg object} must be a Keras 3 model, not {obj_type(object)}.",
      i = "Build one with Keras, e.g. {.code keras$Sequential(...)}, or load one with {.code keras$saving$load_model()}."
    )
  )
}

#' @rdname export_savedmodel
#' @export
export_savedmodel.keras.src.models.model.Model <- function(object,
                                                           export_dir_base,
                                                           ...,
                                                           format = "tf_saved_model",
                                                           verbose = NULL,
                                                           input_signature = NULL,
                                                           overwrite = FALSE,
                                                           verify = TRUE,
                                                           precision = "float32",
                                                           calibration_data = NULL) {
  call <- rlang::current_env()
  check_string(export_dir_base)
  check_choice(format, export_formats, kind = "format")
  check_bool(verbose, allow_null = TRUE)
  check_bool(overwrite)
  check_bool(verify)
  check_choice(precision, export_precisions, kind = "precision")
  check_target_free(export_dir_base, format, overwrite, call)
  options <- as_py_options(list(...))
  signature <- as_py_signature(input_signature)

  report <- with_core(with_export_progress(display = export_display(verbose), do.call(core$export, c(
    list(
      object, path.expand(export_dir_base),
      format = format, verbose = verbose, input_signature = signature,
      overwrite = overwrite, verify = verify, precision = precision,
      calibration_data = as_py_calibration(calibration_data)
    ),
    options
  ))), error_call = call)

  # rlang, not cli: one line, never wrapped, however narrow the console.
  rlang::inform(report$summary(), class = "kerasexport_export_message")
  for (warning_text in unlist(report$warnings)) {
    cli::cli_warn("{warning_text}", class = "kerasexport_warning")
  }
  invisible(object)
}

export_formats <- c("tf_saved_model", "onnx", "openvino", "litert", "torch")
export_precisions <- c("float32", "float16", "bfloat16", "int8")

# Calibration rows for Python: arrays as they are (reticulate makes NumPy
# arrays of them), lists element by element, and a generator function
# drained into a list of batches (at most `limit`).
as_py_calibration <- function(x, limit = 10000L) {
  if (is.function(x)) {
    batches <- list()
    while (length(batches) < limit && !is.null(batch <- x())) {
      batches[[length(batches) + 1L]] <- batch
    }
    return(batches)
  }
  x
}

# An existing artifact of the right kind, without `overwrite`: said in R
# terms here (Python checks everything else about the target).
check_target_free <- function(path, format, overwrite, call = caller_env()) {
  expanded <- path.expand(path)
  if (overwrite || !file.exists(expanded)) {
    return(invisible())
  }
  if (dir.exists(expanded) != identical(format, "tf_saved_model")) {
    return(invisible()) # The wrong kind: Python says so.
  }
  abort_kerasexport(
    "path",
    c(
      "{.path {path}} already exists.",
      i = "Pass {.code overwrite = TRUE} to replace it (the old artifact stays until the new one is verified), or choose another path."
    ),
    call = call
  )
}

# Named R values to Python keyword arguments: whole doubles become integers
# (an `opset_version` of 17, not 17.0), named lists become dicts.
as_py_options <- function(options, call = caller_env()) {
  if (length(options) == 0) {
    return(list())
  }
  check_named_options(options, "For example {.code opset_version = 17}.", call = call)
  lapply(options, as_py_value)
}

# Options travel as Python keyword arguments: each needs a name. `hint` is a
# cli string, interpolated here.
check_named_options <- function(options, hint, call = caller_env()) {
  names <- names(options)
  if (is.null(names) || any(!nzchar(names))) {
    abort_kerasexport(
      "option",
      c("Every option in {.arg ...} must be named.", i = hint),
      call = call
    )
  }
}

as_py_value <- function(x) {
  if (is.list(x) && !inherits(x, "python.builtin.object")) {
    return(lapply(x, as_py_value))
  }
  if (is.double(x) && length(x) == 1 && !is.na(x) && x == round(x) && abs(x) < .Machine$integer.max) {
    return(as.integer(x))
  }
  x
}
