#' Describe one model input
#'
#' `input_spec()` gives the shape, dtype and (optionally) name of one input,
#' for the `input_signature` argument of [export_savedmodel()]. It is a plain
#' R object: it needs no Python until the export runs.
#'
#' `input_signature` accepts, besides `input_spec()`:
#' * a numeric shape with `NA` for unknown dimensions, e.g. `c(NA, 28, 28, 1)`
#'   (the dtype is then taken from the model's input);
#' * an unnamed list of shapes or specs, one per positional input;
#' * a named list, for models taking a dict of inputs;
#' * an R array: its shape (batch dimension made unknown) and type;
#' * Python objects passed through: `keras$InputSpec`, `tf$TensorSpec`,
#'   `KerasTensor`.
#'
#' @param shape Integer-valued numeric vector; `NA` (or `NULL` in a list)
#'   marks an unknown dimension, such as the batch.
#' @param dtype Element type: one of `"float16"`, `"bfloat16"`, `"float32"`,
#'   `"float64"`, `"int8"`, `"int16"`, `"int32"`, `"int64"`, `"uint8"`,
#'   `"uint16"`, `"uint32"`, `"uint64"`, `"bool"`, `"string"`.
#' @param name Optional name of the input.
#' @returns An object of class `kerasexport_input_spec`.
#' @section Errors:
#' `kerasexport_signature_error` for a negative or fractional dimension or an
#' unknown dtype; `kerasexport_argument_error` for a bad `name`.
#' @family exporting
#' @export
#' @examples
#' input_spec(c(NA, 28, 28, 1))
#' input_spec(c(NA, 20), dtype = "int32", name = "tokens")
input_spec <- function(shape, dtype = "float32", name = NULL) {
  shape <- as_shape(shape)
  check_choice(dtype, known_dtypes, kind = "signature")
  if (!is.null(name)) {
    check_string(name)
  }
  new_input_spec(shape, dtype, name)
}

new_input_spec <- function(shape, dtype, name = NULL) {
  structure(list(shape = shape, dtype = dtype, name = name), class = "kerasexport_input_spec")
}

is_input_spec <- function(x) inherits(x, "kerasexport_input_spec")

known_dtypes <- c(
  "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
  "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string"
)

#' @export
print.kerasexport_input_spec <- function(x, ...) {
  dims <- ifelse(is.na(x$shape), "NA", format(x$shape, trim = TRUE))
  cat(cli::format_inline(
    "<input_spec> shape ({paste(dims, collapse = ', ')}), dtype {x$dtype}",
    if (!is.null(x$name)) ", name {.val {x$name}}"
  ), "\n", sep = "")
  invisible(x)
}

# A shape as an integer vector with NA for unknown dimensions.
as_shape <- function(shape, arg = caller_arg(shape), call = caller_env()) {
  if (is.list(shape) && all(vapply(shape, function(d) is.null(d) || (is.numeric(d) && length(d) == 1) || (is.logical(d) && length(d) == 1 && is.na(d)), logical(1)))) {
    shape <- vapply(shape, function(d) if (is.null(d)) NA_real_ else as.numeric(d), numeric(1))
  }
  if (is.logical(shape) && all(is.na(shape))) {
    shape <- as.numeric(shape)
  }
  if (!is.numeric(shape) || length(shape) == 0) {
    abort_kerasexport(
      "signature",
      c(
        "{.arg {arg}} must be a numeric shape such as {.code c(NA, 28, 28, 1)}, not {obj_type(shape)}.",
        i = "Use {.code NA} for an unknown dimension (the batch, a sequence length)."
      ),
      call = call
    )
  }
  known <- shape[!is.na(shape)]
  if (any(!is.finite(known)) || any(known != round(known))) {
    abort_kerasexport(
      "signature",
      c(
        "Dimensions must be whole numbers, but {.arg {arg}} is {.code ({format_shape(shape)})}.",
        i = "Use {.code NA} for an unknown dimension."
      ),
      call = call
    )
  }
  if (any(known < 0)) {
    abort_kerasexport(
      "signature",
      c(
        "Dimensions must be positive, but {.arg {arg}} is {.code ({format_shape(shape)})}.",
        i = "Use {.code NA}, not {.code -1}, for an unknown dimension."
      ),
      call = call
    )
  }
  as.integer(shape)
}

format_shape <- function(shape) {
  paste(ifelse(is.na(shape), "NA", format(shape, trim = TRUE)), collapse = ", ")
}

# R's `input_signature` to the Python structure kerasexport.export() takes.
as_py_signature <- function(x, arg = caller_arg(x), call = caller_env()) {
  check_signature(x, arg = arg, call = call)
  to_py_signature(x)
}

# Check in R what Python would reject, without Python: the archive verbs
# check when they record, long before anything is converted.
check_signature <- function(x, arg = caller_arg(x), call = caller_env()) {
  if (is.null(x) || inherits(x, "python.builtin.object") || is_input_spec(x)) {
    return(invisible())
  }
  if (is.array(x)) {
    dtype_of_array(x, arg, call)
    return(invisible())
  }
  if (is_shape_like(x)) {
    as_shape(x, arg = arg, call = call)
    return(invisible())
  }
  if (is.list(x)) {
    names <- names(x)
    if (length(x) == 0) {
      abort_kerasexport("signature", "{.arg {arg}} is an empty list; give one spec per input.", call = call)
    }
    if (!is.null(names) && (any(!nzchar(names)) || anyDuplicated(names))) {
      abort_kerasexport(
        "signature",
        "{.arg {arg}} must be fully named (one name per input, no repeats) or not named at all.",
        call = call
      )
    }
    for (i in seq_along(x)) {
      check_signature(x[[i]], arg = paste0(arg, "[[", i, "]]"), call = call)
    }
    return(invisible())
  }
  abort_kerasexport(
    "signature",
    c(
      "{.arg {arg}} cannot describe a model input: received {obj_type(x)}.",
      i = "Use a shape such as {.code c(NA, 28, 28, 1)}, {.code input_spec()}, a list of these, or an array."
    ),
    call = call
  )
}

# Convert a signature `check_signature()` accepted.
to_py_signature <- function(x) {
  if (is.null(x) || inherits(x, "python.builtin.object")) {
    return(x)
  }
  if (is_input_spec(x)) {
    return(core$signature$spec(shape = py_shape(x$shape), dtype = x$dtype, name = x$name))
  }
  if (is.array(x)) {
    return(to_py_signature(new_input_spec(c(NA, dim(x)[-1]), dtype_of_array(x))))
  }
  if (is_shape_like(x)) {
    return(py_shape(as_shape(x)))
  }
  items <- lapply(unname(x), to_py_signature)
  if (is.null(names(x))) {
    return(items)
  }
  reticulate::py_dict(names(x), items, convert = FALSE)
}

is_shape_like <- function(x) {
  is.numeric(x) || is_shape_list(x) || (is.logical(x) && all(is.na(x)))
}

is_shape_list <- function(x) {
  is.list(x) && is.null(names(x)) && length(x) > 0 &&
    all(vapply(x, function(d) is.null(d) || (is.numeric(d) && length(d) == 1 && is.null(dim(d))), logical(1)))
}

py_shape <- function(shape) {
  do.call(reticulate::tuple, lapply(shape, function(d) if (is.na(d)) NULL else as.integer(d)))
}

dtype_of_array <- function(x, arg = caller_arg(x), call = caller_env()) {
  switch(
    typeof(x),
    double = "float32",
    integer = "int32",
    logical = "bool",
    character = "string",
    abort_kerasexport(
      "signature",
      "{.arg {arg}} is an array of type {typeof(x)}; expected numbers, integers, logicals or strings.",
      call = call
    )
  )
}
