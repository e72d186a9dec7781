#' Load an exported artifact, to inspect it and predict with it
#'
#' Opens a TensorFlow SavedModel directory, or an ONNX, OpenVINO IR, LiteRT
#' or `.pt2` file, with its own runtime (TensorFlow, onnxruntime, OpenVINO,
#' the LiteRT interpreter or torch), without the model's code: a model
#' defined in another session, or by someone else, can be used as is. A file
#' is recognised by its content, whatever its name. Loading an ONNX, OpenVINO
#' or LiteRT file imports its runtime only, not TensorFlow, Keras, JAX or
#' PyTorch; a `.pt2` file imports torch alone. A LiteRT file with a fixed
#' batch size of 1 is run one row at a time, so `predict()` takes any number
#' of rows. Each endpoint's inputs and outputs are read once, when the
#' artifact is loaded; `print()` shows them and
#' [predict()][predict.kerasexport_artifact] checks inputs against them.
#' For a SavedModel, `print()` also says which endpoint `serving_default`
#' repeats ("same as"): `serve` for a model's export, the first endpoint of
#' an archive written by [write_out()].
#'
#' An artifact holds a Python object: it lives as long as the R session. Saved
#' with [saveRDS()] and read back in a new session, it can still be printed,
#' but must be loaded again with `load_artifact()` to predict.
#'
#' @param path Path of a SavedModel directory (holding `saved_model.pb`) or of
#'   a file: ONNX, OpenVINO IR (the `.xml`, with its `.bin` beside it), LiteRT
#'   or `.pt2`; or the URL of a served model,
#'   `"http://host:port/v1/models/NAME"` (optionally `".../versions/N"`), as
#'   [serve_artifact()] or TensorFlow Serving serve it. A served model prints
#'   and predicts as a local artifact does; each prediction is a request to
#'   the server (TF-Serving's REST API), checked in R before it is sent. A
#'   server started with a token by [serve_artifact()] is called with it;
#'   others with the `KERASEXPORT_SERVE_TOKEN` environment variable, if set.
#' @param providers ONNX only: onnxruntime execution providers, e.g.
#'   `"CPUExecutionProvider"`. `NULL` (default) uses the CPU.
#' @param session_options ONNX only: an `onnxruntime$SessionOptions` Python
#'   object, e.g. to set the number of threads. `NULL` (default) uses
#'   onnxruntime's defaults.
#' @returns An object of class `kerasexport_artifact`.
#' @section Errors:
#' Errors have class `kerasexport_error` and one of
#' `kerasexport_artifact_error` (nothing at `path`, a directory that is not a
#' SavedModel, a file its runtime cannot load, an OpenVINO IR without its
#' `.bin`, a LiteRT file that needs Flex ops, ONNX options for another format),
#' `kerasexport_dependency_error` (the runtime is not installed),
#' `kerasexport_http_error` (a URL whose server cannot be reached, or answers
#' with an error: the message says what it answered) and
#' `kerasexport_argument_error`. See [kerasexport-errors].
#' @family loading
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 4) |> layer_dense(2)
#' path <- file.path(tempdir(), "model.onnx")
#' model |> export_savedmodel(path, format = "onnx", overwrite = TRUE)
#'
#' artifact <- load_artifact(path)
#' artifact
#' predict(artifact, matrix(runif(12), nrow = 3))
load_artifact <- function(path, providers = NULL, session_options = NULL) {
  call <- rlang::current_env()
  check_string(path)
  if (is_url(path)) {
    return(load_remote_artifact(path, call))
  }
  if (!is.null(providers) && !(is.character(providers) && length(providers) > 0 && !anyNA(providers))) {
    abort_kerasexport(
      "argument",
      "{.arg providers} must be a character vector of onnxruntime providers or {.code NULL}, not {obj_type(providers)}."
    )
  }
  path <- normalizePath(path.expand(path), mustWork = FALSE)
  if (!file.exists(path)) {
    abort_kerasexport(
      "artifact",
      c(
        "No artifact at {.path {path}}: nothing exists there.",
        i = "Give a SavedModel directory or an ONNX, OpenVINO, LiteRT or {.file .pt2} file."
      )
    )
  }
  if (dir.exists(path) && !file.exists(file.path(path, "saved_model.pb"))) {
    abort_kerasexport(
      "artifact",
      c(
        "{.path {path}} is a directory without {.file saved_model.pb}, so not a SavedModel.",
        i = "Give a SavedModel directory or an ONNX, OpenVINO, LiteRT or {.file .pt2} file."
      )
    )
  }
  args <- list(path)
  if (!is.null(providers)) args$providers <- as.list(providers)
  if (!is.null(session_options)) args$session_options <- session_options
  py <- with_core(do.call(core$load, args), error_call = call)
  bind_predict(new_artifact(py, with_core(py$describe(), error_call = call)))
}

# `info` is `Artifact.describe()` converted to R: shapes become integer
# vectors with NA for dynamic dimensions, endpoints a list named by endpoint.
new_artifact <- function(py, info) {
  endpoints <- lapply(info$endpoints, function(e) {
    list(
      name = e$name,
      kind = e$kind,
      serving_default = isTRUE(e$serving_default),
      same_as = e$same_as,
      inputs = lapply(e$inputs, new_tensor_info),
      outputs = lapply(e$outputs, new_tensor_info)
    )
  })
  names(endpoints) <- vapply(endpoints, `[[`, "", "name")
  structure(
    list(
      py = py,
      path = info$path,
      format = info$format,
      size = info$size,
      precision = info$precision %||% "float32",
      default_endpoint = info$default_endpoint,
      endpoints = endpoints
    ),
    class = "kerasexport_artifact"
  )
}

# Looked up once, at load time: attribute access through reticulate costs
# more than onnxruntime takes to run a small model.
bind_predict <- function(artifact) {
  if (!is.null(artifact$py)) {
    artifact$predict_checked <- reticulate::py_get_attr(artifact$py, "_predict_checked")
  }
  artifact
}

new_tensor_info <- function(t) {
  shape <- if (is.null(t$shape)) NULL else vapply(t$shape, function(d) if (is.null(d)) NA_integer_ else as.integer(d), integer(1))
  list(name = t$name, dtype = t$dtype, shape = shape)
}

is_artifact <- function(x) inherits(x, "kerasexport_artifact")

artifact_is_live <- function(x) {
  !is.null(x$py) && !reticulate::py_is_null_xptr(x$py)
}

#' @export
print.kerasexport_artifact <- function(x, ...) {
  cat(format_artifact(x), sep = "\n")
  invisible(x)
}

# The lines print() writes: formatted by cli, written with cat() (cli's own
# functions write messages, which capture.output() and sink() miss).
format_artifact <- function(x) {
  cli::cli_format_method({
    cli::cli_text("{.cls kerasexport_artifact}")
    cli::cli_bullets(c(
      "*" = "Format: {x$format}",
      "*" = "Path: {.path {x$path}}",
      "*" = "Size: {format_bytes(x$size)}",
      "*" = "Precision: {x$precision %||% \"float32\"}"
    ))
    if (!artifact_is_live(x)) {
      cli::cli_bullets(c("!" = "Loaded in an earlier R session: run {.code load_artifact()} again to predict."))
    }
    for (endpoint in x$endpoints) {
      marks <- c(
        if (!is.null(endpoint$same_as)) "same as {.val {endpoint$same_as}}",
        if (endpoint$serving_default) "serving default",
        if (identical(endpoint$name, x$default_endpoint)) "used by {.fn predict}"
      )
      mark <- if (length(marks)) paste0(" (", paste(marks, collapse = ", "), ")") else ""
      cli::cli_text(paste0("Endpoint {.val {endpoint$name}}", mark, ":"))
      lines <- c(
        vapply(endpoint$inputs, tensor_line, "", role = "Input"),
        vapply(endpoint$outputs, tensor_line, "", role = "Output")
      )
      names(lines) <- rep(" ", length(lines))
      cli::cli_bullets(lines)
    }
  })
}

tensor_line <- function(t, role) {
  name <- cli_escape(t$name) # data, not markup
  paste0(role, " ", name, ": ", t$dtype, " ", shape_text(t$shape))
}

shape_text <- function(shape) {
  if (is.null(shape)) {
    return("(unknown rank)")
  }
  paste0("(", paste(ifelse(is.na(shape), "NA", shape), collapse = ", "), ")")
}

format_bytes <- function(size) {
  units <- c("B", "kB", "MB", "GB")
  i <- 1
  while (size >= 1000 && i < length(units)) {
    size <- size / 1000
    i <- i + 1
  }
  if (i == 1) paste(format(size), units[[i]]) else paste(sprintf("%.1f", size), units[[i]])
}

#' Predict with a loaded artifact
#'
#' Runs one endpoint of an artifact from [load_artifact()] on R arrays. Inputs
#' are checked against the endpoint's inputs (names, rank, fixed dimensions)
#' and cast to their dtypes when the cast is exact: whole doubles into an
#' integer input are fine, `2.5` or an `NA` is an error, as is a value outside
#' the integer type's range.
#'
#' @param object A `kerasexport_artifact` from [load_artifact()].
#' @param x The inputs: an array (or vector, for a rank-1 input) when the
#'   endpoint takes a single input; an unnamed list of arrays, in the
#'   endpoint's input order; or a named list, by input name (see
#'   `print(object)` for names, order and shapes). The first dimension is the
#'   batch.
#' @param endpoint Name of the endpoint to call; `NULL` (default) uses the one
#'   `print()` marks "used by `predict()`": `serving_default` for a
#'   SavedModel (as TF-Serving), `serve` for an ONNX file.
#' @param batch_size `NULL` (default) to run all rows at once, or a positive
#'   whole number: rows are then run that many at a time and the results
#'   bound together.
#' @param ... Unused; must be empty.
#' @returns An array for an endpoint with a single output, otherwise a named
#'   list of arrays, one per output name.
#' @section Errors:
#' Errors have class `kerasexport_error` and one of
#' `kerasexport_input_error` (missing or unexpected input name, wrong number
#' of inputs, wrong rank or fixed dimension, a cast that would lose
#' information, different batch sizes), `kerasexport_artifact_error` (unknown
#' endpoint, which lists the available ones; an artifact loaded in an earlier
#' session) and `kerasexport_argument_error`. See [kerasexport-errors].
#' @family loading
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' a <- keras_input(shape = 4, name = "a")
#' b <- keras_input(shape = 2, name = "b")
#' model <- keras_model(list(a, b), layer_concatenate(list(a, b)) |> layer_dense(1))
#' path <- file.path(tempdir(), "two-inputs.onnx")
#' model |> export_savedmodel(path, format = "onnx", overwrite = TRUE)
#' artifact <- load_artifact(path)
#'
#' # inputs by position, or by name
#' predict(artifact, list(matrix(1, 3, 4), matrix(0, 3, 2)))
#' predict(artifact, list(b = matrix(0, 3, 2), a = matrix(1, 3, 4)))
#'
#' # in batches of 100 rows
#' predict(artifact, list(matrix(1, 1000, 4), matrix(0, 1000, 2)), batch_size = 100)
predict.kerasexport_artifact <- function(object, x, endpoint = NULL, batch_size = NULL, ...) {
  call <- rlang::current_env()
  rlang::check_dots_empty(call = call)
  spec <- artifact_endpoint(object, endpoint, call)
  batch_size <- check_batch_size(batch_size, call)
  values <- match_inputs(spec, x, call)
  arrays <- lapply(seq_along(values), function(i) {
    as_input_array(values[[i]], spec$inputs[[i]], call)
  })
  check_batch_sizes(arrays, spec, call)
  if (!artifact_is_live(object)) {
    abort_kerasexport(
      "artifact",
      c(
        "This artifact was loaded in an earlier R session; its runtime is gone.",
        i = "Run {.code load_artifact({.str {object$path}})} again."
      ),
      call = call
    )
  }
  if (any(vapply(arrays, inherits, TRUE, "python.builtin.object"))) {
    # NumPy arrays were not checked in R: Python checks everything.
    py_x <- if (length(arrays) == 1) arrays[[1]] else unname(arrays)
    return(with_core(
      object$py$predict(py_x, endpoint = spec$name, batch_size = batch_size),
      error_call = call
    ))
  }
  # Checked in R: one call into Python, which converts, casts and runs.
  with_core(object$predict_checked(unname(arrays), spec$name, batch_size), error_call = call)
}

artifact_endpoint <- function(object, endpoint, call) {
  if (!is_artifact(object)) {
    abort_kerasexport("argument", "{.arg object} must be an artifact from {.fn load_artifact}, not {obj_type(object)}.", call = call)
  }
  if (is.null(endpoint)) {
    endpoint <- object$default_endpoint
  }
  check_string(endpoint, call = call)
  spec <- object$endpoints[[endpoint]]
  if (is.null(spec) || !identical(spec$name, endpoint)) {
    available <- sort(names(object$endpoints))
    abort_kerasexport(
      "artifact",
      c(
        "Unknown endpoint {.val {endpoint}}.",
        i = "Available: {.val {available}}."
      ),
      call = call
    )
  }
  spec
}

check_batch_size <- function(batch_size, call) {
  if (is.null(batch_size)) {
    return(NULL)
  }
  if (!(is.numeric(batch_size) && length(batch_size) == 1 && !is.na(batch_size) &&
    batch_size >= 1 && batch_size == round(batch_size) && batch_size <= .Machine$integer.max)) {
    abort_kerasexport(
      "argument",
      "{.arg batch_size} must be {.code NULL} or a positive whole number, not {obj_type(batch_size)}.",
      call = call
    )
  }
  as.integer(batch_size)
}

# Inputs in the endpoint's order, from an array, a list or a named list.
match_inputs <- function(spec, x, call) {
  inputs <- spec$inputs
  input_names <- vapply(inputs, `[[`, "", "name")
  described <- function() {
    paste(vapply(inputs, function(t) paste0(t$name, " ", t$dtype, " ", shape_text(t$shape)), ""), collapse = ", ")
  }
  if (is.list(x) && !is.data.frame(x)) {
    x_names <- names(x)
    if (is.null(x_names)) {
      if (length(x) != length(inputs)) {
        abort_kerasexport(
          "input",
          c(
            "Endpoint {.val {spec$name}} takes {length(inputs)} input{?s}, received a list of {length(x)}.",
            i = "Expected, in order: {described()}."
          ),
          call = call
        )
      }
      return(x)
    }
    if (any(!nzchar(x_names)) || anyDuplicated(x_names)) {
      abort_kerasexport(
        "input",
        "{.arg x} must be fully named (each input once) or not named at all.",
        call = call
      )
    }
    missing <- setdiff(input_names, x_names)
    extra <- setdiff(x_names, input_names)
    if (length(missing) || length(extra)) {
      abort_kerasexport(
        "input",
        c(
          "The names in {.arg x} do not match the inputs of endpoint {.val {spec$name}}.",
          x = if (length(missing)) "Missing: {.val {missing}}.",
          x = if (length(extra)) "Unexpected: {.val {extra}}.",
          i = "Expected: {described()}."
        ),
        call = call
      )
    }
    return(x[input_names])
  }
  if (length(inputs) != 1) {
    abort_kerasexport(
      "input",
      c(
        "Endpoint {.val {spec$name}} takes {length(inputs)} inputs, received {obj_type(x)}.",
        i = "Give a list in this order, or a named list: {described()}."
      ),
      call = call
    )
  }
  list(x)
}

integer_ranges <- list(
  int8 = c(-128, 127), uint8 = c(0, 255), int16 = c(-32768, 32767),
  uint16 = c(0, 65535), int32 = c(-2147483648, 2147483647),
  uint32 = c(0, 4294967295), int64 = c(-2^63, 2^63 - 1024), uint64 = c(0, 2^64 - 2048)
)

# One input, checked in R: rank, fixed dimensions, and that the cast to the
# input's dtype is exact. Returns the R value (a vector gets a `dim`, so it
# arrives in Python as a 1-d array, not a list or a scalar).
as_input_array <- function(value, info, call) {
  if (inherits(value, "python.builtin.object")) {
    return(value) # NumPy arrays pass through; Python checks them.
  }
  if (is.null(dim(value))) {
    dim(value) <- length(value)
  }
  given <- dim(value)
  received <- function() paste0(obj_type(value), " of shape ", shape_text(given), " (", typeof(value), ")")
  refuse <- function(why) {
    expected <- paste0("shape ", shape_text(info$shape), " and dtype ", info$dtype)
    abort_kerasexport(
      "input",
      c(
        "Input {.val {info$name}} expects {expected}; received {received()}.",
        x = why
      ),
      call = call
    )
  }
  if (!(is.atomic(value) && (is.numeric(value) || is.logical(value) || is.character(value)))) {
    refuse("Inputs must be numeric, logical or character arrays.")
  }
  shape <- info$shape
  if (!is.null(shape)) {
    if (length(given) != length(shape)) {
      refuse(paste0("Wrong rank: ", length(given), " instead of ", length(shape), "."))
    }
    wrong <- which(!is.na(shape) & given != shape)
    if (length(wrong)) {
      d <- wrong[[1]]
      refuse(paste0("Dimension ", d, " has size ", given[[d]], "; the input's is fixed at ", shape[[d]], "."))
    }
  }
  dtype <- info$dtype
  if (dtype == "string") {
    if (!is.character(value)) refuse("Strings are expected.")
    return(value)
  }
  if (is.character(value)) {
    refuse("Strings cannot be cast to a number.")
  }
  if (dtype == "bool") {
    if (anyNA(value)) refuse("Missing values (NA) have no boolean value.")
    if (!is.logical(value) && !all(value %in% c(0, 1))) refuse("Values other than 0 and 1 are not booleans.")
    return(value)
  }
  if (!is.null(integer_ranges[[dtype]])) {
    if (anyNA(value)) refuse(paste0("Missing values (NA) have no ", dtype, " value."))
    if (is.double(value) && any(value != trunc(value))) refuse(paste0("Fractional values cannot be cast exactly to ", dtype, "."))
    bounds <- integer_ranges[[dtype]]
    seen <- if (length(value)) range(value) else c(0, 0)
    if (seen[[1]] < bounds[[1]] || seen[[2]] > bounds[[2]]) {
      refuse(paste0("Values outside ", dtype, "'s range [", format(bounds[[1]], scientific = FALSE), ", ", format(bounds[[2]], scientific = FALSE), "]."))
    }
    return(value)
  }
  # Overflow of doubles into a narrower float is checked in Python, where it
  # costs less (see `Artifact._predict_checked()`).
  if (is.integer(value) && dtype %in% c("float16", "bfloat16", "float32") &&
    any(abs(value) > 2^c(float16 = 11, bfloat16 = 8, float32 = 24)[[dtype]], na.rm = TRUE)) {
    refuse(paste0("Integers this large are not exact in ", dtype, "."))
  }
  value
}

check_batch_sizes <- function(arrays, spec, call) {
  rows <- vapply(arrays, function(a) {
    d <- if (inherits(a, "python.builtin.object")) NA_integer_ else if (is.null(dim(a))) length(a) else dim(a)[[1]]
    as.integer(d)
  }, integer(1))
  rows <- rows[!is.na(rows)]
  if (length(unique(rows)) > 1) {
    names <- vapply(spec$inputs, `[[`, "", "name")
    abort_kerasexport(
      "input",
      "Inputs have different batch sizes: {paste0(names, ' = ', rows, collapse = ', ')}.",
      call = call
    )
  }
}

