# Small type checkers: "`x` must be a single string, not a number."

check_string <- function(x, arg = caller_arg(x), call = caller_env()) {
  if (!(is.character(x) && length(x) == 1 && !is.na(x) && nzchar(x))) {
    abort_kerasexport(
      "argument",
      "{.arg {arg}} must be a single non-empty string, not {obj_type(x)}.",
      call = call
    )
  }
}

check_bool <- function(x, arg = caller_arg(x), call = caller_env(), allow_null = FALSE) {
  if (allow_null && is.null(x)) {
    return(invisible(x))
  }
  if (!(is.logical(x) && length(x) == 1 && !is.na(x))) {
    abort_kerasexport(
      "argument",
      "{.arg {arg}} must be {.code TRUE} or {.code FALSE}{if (allow_null) ' or {.code NULL}'}, not {obj_type(x)}.",
      call = call
    )
  }
}

check_choice <- function(x, choices, kind = "argument", arg = caller_arg(x), call = caller_env()) {
  if (!(is.character(x) && length(x) == 1 && x %in% choices)) {
    shown <- if (is.character(x) && length(x) == 1) paste0('"', x, '"') else obj_type(x)
    abort_kerasexport(
      kind,
      c(
        "{.arg {arg}} must be one of {.or {.val {choices}}}, not {shown}.",
        i = if (is.character(x) && length(x) == 1) closest_hint(x, choices)
      ),
      call = call
    )
  }
}

closest_hint <- function(x, choices) {
  distance <- utils::adist(x, choices, ignore.case = TRUE)
  if (min(distance) <= 3) {
    paste0("Did you mean \"", choices[which.min(distance)], "\"?")
  }
}

obj_type <- function(x) {
  if (is.null(x)) {
    return("NULL")
  }
  if (inherits(x, "python.builtin.object")) {
    return(paste("a Python", sub("^python\\.builtin\\.", "", class(x)[[1]])))
  }
  type <- if (is.data.frame(x)) "a data frame" else if (is.array(x)) "an array" else if (is.list(x)) "a list" else switch(
    typeof(x),
    character = "a character vector", double = "a number", integer = "an integer",
    logical = "a logical vector", closure = "a function", environment = "an environment",
    paste("an object of type", typeof(x))
  )
  if (is.atomic(x) && !is.array(x) && length(x) != 1) {
    type <- paste0(sub("^an? ", "", type), " of length ", length(x))
    type <- paste0(if (grepl("^[aeiou]", type)) "an " else "a ", type)
  }
  type
}
