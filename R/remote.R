# A served model as an artifact: load_artifact("http://host:port/v1/models/NAME")
# reads the model's metadata from TF-Serving's REST API and predicts through
# it, with the same inputs and outputs as a local artifact. It speaks only
# TF-Serving's API, so it works against TensorFlow Serving too.

url_pattern <- "^(https?://[^/]+)(/.*)?/v1/models/([^/:]+)(/versions/([0-9]+))?/?$"

is_url <- function(x) is.character(x) && length(x) == 1 && !is.na(x) && grepl("^https?://", x)

load_remote_artifact <- function(url, call) {
  if (!grepl(url_pattern, url)) {
    abort_kerasexport(
      "argument",
      c(
        "{.arg path} is a URL, but not one of a served model: {.url {url}}.",
        i = "Expected {.code http://host:port/v1/models/NAME} or {.code .../v1/models/NAME/versions/N}."
      ),
      call = call
    )
  }
  base <- paste0(sub(url_pattern, "\\1", url), sub(url_pattern, "\\2", url))
  model <- sub(url_pattern, "\\3", url)
  version <- sub(url_pattern, "\\5", url)
  model_url <- paste0(base, "/v1/models/", model, if (nzchar(version)) paste0("/versions/", version))
  token <- served_token(base)
  metadata <- http_json(paste0(model_url, "/metadata"), token = token, call = call)
  info <- metadata$metadata$kerasexport %||% describe_signatures(metadata$metadata$signature_def$signature_def)
  artifact <- new_artifact(NULL, info)
  artifact$path <- model_url
  artifact$url <- model_url
  artifact$model <- model
  artifact$version <- metadata$model_spec$version
  artifact$token <- token
  class(artifact) <- c("kerasexport_remote_artifact", class(artifact))
  artifact
}

# TF-Serving's signature_def map, described as Artifact.describe() would.
describe_signatures <- function(signatures) {
  tensor <- function(name, t) {
    dims <- t$tensor_shape$dim
    shape <- if (isTRUE(t$tensor_shape$unknown_rank)) NULL else lapply(dims, function(d) {
      size <- as.numeric(d$size)
      if (size < 0) NULL else size
    })
    list(name = name, dtype = tf_dtypes[[t$dtype]] %||% tolower(sub("^DT_", "", t$dtype)), shape = shape)
  }
  endpoints <- lapply(names(signatures), function(name) {
    s <- signatures[[name]]
    list(
      name = name, kind = "signature", serving_default = identical(name, "serving_default"),
      same_as = NULL,
      inputs = lapply(names(s$inputs), function(n) tensor(n, s$inputs[[n]])),
      outputs = lapply(names(s$outputs), function(n) tensor(n, s$outputs[[n]]))
    )
  })
  names <- names(signatures)
  list(
    format = "remote", size = NA_real_, precision = "unknown", endpoints = endpoints,
    default_endpoint = if ("serving_default" %in% names) "serving_default" else names[[1]]
  )
}

tf_dtypes <- list(
  DT_FLOAT = "float32", DT_DOUBLE = "float64", DT_HALF = "float16", DT_BFLOAT16 = "bfloat16",
  DT_INT8 = "int8", DT_INT16 = "int16", DT_INT32 = "int32", DT_INT64 = "int64",
  DT_UINT8 = "uint8", DT_UINT16 = "uint16", DT_UINT32 = "uint32", DT_UINT64 = "uint64",
  DT_BOOL = "bool", DT_STRING = "string"
)

#' @export
print.kerasexport_remote_artifact <- function(x, ...) {
  size <- if (is.na(x$size)) "unknown" else format_bytes(x$size)
  lines <- c(
    "*" = "Format: {x$format}",
    "*" = "Served at: {.url {x$url}}",
    "*" = "Version: {x$version}",
    "*" = "Size: {size}",
    "*" = "Precision: {x$precision}"
  )
  cat("<kerasexport_remote_artifact>", cli_lines(lines), endpoint_lines(x), sep = "\n")
  invisible(x)
}

# An artifact's endpoints as lines of text, as print() shows them for a local
# artifact: the same marks and cli markup, and the same tensor_line().
endpoint_lines <- function(x) {
  unlist(lapply(x$endpoints, function(endpoint) {
    marks <- c(
      if (!is.null(endpoint$same_as)) "same as {.val {endpoint$same_as}}",
      if (endpoint$serving_default) "serving default",
      if (identical(endpoint$name, x$default_endpoint)) "used by {.fn predict}"
    )
    mark <- if (length(marks)) paste0(" (", paste(marks, collapse = ", "), ")") else ""
    tensors <- c(
      vapply(endpoint$inputs, tensor_line, "", role = "Input"),
      vapply(endpoint$outputs, tensor_line, "", role = "Output")
    )
    c(
      cli::format_inline(paste0("Endpoint {.val {endpoint$name}}", mark, ":")),
      paste0("  ", vapply(tensors, cli::format_inline, "", USE.NAMES = FALSE))
    )
  }), use.names = FALSE)
}

#' @rdname predict.kerasexport_artifact
#' @export
predict.kerasexport_remote_artifact <- function(object, x, endpoint = NULL, batch_size = NULL, ...) {
  call <- rlang::current_env()
  rlang::check_dots_empty(call = call)
  spec <- artifact_endpoint(object, endpoint, call)
  batch_size <- check_batch_size(batch_size, call)
  values <- match_inputs(spec, x, call)
  arrays <- lapply(seq_along(values), function(i) {
    if (inherits(values[[i]], "python.builtin.object")) {
      abort_kerasexport("input", "A served model takes R arrays, not Python objects.", call = call)
    }
    as_input_array(values[[i]], spec$inputs[[i]], call)
  })
  check_batch_sizes(arrays, spec, call)
  names(arrays) <- vapply(spec$inputs, `[[`, "", "name")
  rows <- dim(arrays[[1]])[[1]]
  chunks <- if (is.null(batch_size) || rows <= batch_size) {
    list(seq_len(rows))
  } else {
    split(seq_len(rows), ceiling(seq_len(rows) / batch_size))
  }
  parts <- lapply(chunks, function(rows) {
    remote_predict(object, spec, lapply(arrays, take_rows, rows), call)
  })
  outputs <- lapply(seq_along(spec$outputs), function(i) bind_rows(lapply(parts, `[[`, i)))
  if (length(outputs) == 1) {
    return(outputs[[1]])
  }
  stats::setNames(outputs, vapply(spec$outputs, `[[`, "", "name"))
}

# One :predict call in TF-Serving's columnar format; outputs in the
# endpoint's order, as arrays of the ranks its metadata gives.
remote_predict <- function(object, spec, arrays, call) {
  body <- jsonlite::toJSON(
    list(signature_name = jsonlite::unbox(spec$name), inputs = arrays),
    digits = NA, na = "null"
  )
  response <- http_json(paste0(object$url, ":predict"), method = "POST", body = body, token = object$token, call = call, simplify = TRUE)
  outputs <- response$outputs
  if (length(spec$outputs) == 1) {
    outputs <- list(outputs)
  } else {
    outputs <- outputs[vapply(spec$outputs, `[[`, "", "name")]
  }
  lapply(seq_along(outputs), function(i) as_output_array(outputs[[i]], spec$outputs[[i]]))
}

as_output_array <- function(value, info) {
  rank <- length(info$shape)
  if (is.null(dim(value)) && (is.null(info$shape) || rank <= 1)) {
    value <- array(value, dim = length(value))
  }
  value
}

take_rows <- function(a, rows) {
  d <- dim(a)
  if (length(d) == 1) {
    return(array(a[rows], dim = length(rows)))
  }
  index <- c(list(rows), rep(list(rlang::missing_arg()), length(d) - 1))
  do.call(`[`, c(list(a), index, drop = FALSE))
}

# Arrays bound along their first dimension.
bind_rows <- function(parts) {
  if (length(parts) == 1) {
    return(parts[[1]])
  }
  d <- dim(parts[[1]])
  if (is.null(d) || length(d) == 1) {
    values <- unlist(parts, use.names = FALSE)
    return(array(values, dim = length(values)))
  }
  rank <- length(d)
  moved <- lapply(parts, aperm, c(2:rank, 1))
  rows <- sum(vapply(parts, function(p) dim(p)[[1]], 1))
  aperm(array(unlist(moved, use.names = FALSE), dim = c(d[-1], rows)), c(rank, 1:(rank - 1)))
}

# HTTP ----

# Tokens of the servers serve_artifact() started in this session, by URL.
served_tokens <- new.env(parent = emptyenv())

served_token <- function(base) {
  for (url in ls(served_tokens)) {
    if (startsWith(base, url)) {
      return(served_tokens[[url]])
    }
  }
  env_token()
}

http_request <- function(url, method = "GET", body = NULL, token = NULL, timeout = 60, call = caller_env()) {
  handle <- curl::new_handle(timeout = timeout, customrequest = method)
  headers <- list()
  if (!is.null(body)) {
    headers[["Content-Type"]] <- "application/json"
    curl::handle_setopt(handle, postfields = as.character(body))
  }
  if (!is.null(token)) headers[["Authorization"]] <- paste("Bearer", token)
  if (length(headers)) curl::handle_setheaders(handle, .list = headers)
  response <- tryCatch(
    curl::curl_fetch_memory(url, handle = handle),
    error = function(e) {
      abort_kerasexport(
        "http",
        c("Could not reach the server at {.url {url}}.", x = "{conditionMessage(e)}", i = "Is it running? {.code print(server)} says."),
        call = call
      )
    }
  )
  list(status = response$status_code, body = response$content)
}

http_json <- function(url, method = "GET", body = NULL, token = NULL, call = caller_env(), simplify = FALSE) {
  response <- http_request(url, method, body, token, call = call)
  text <- rawToChar(response$body)
  Encoding(text) <- "UTF-8"
  parsed <- tryCatch(jsonlite::fromJSON(text, simplifyVector = simplify), error = function(e) NULL)
  if (response$status >= 400) {
    said <- if (is.list(parsed) && is.character(parsed$error)) parsed$error else substr(text, 1, 300)
    abort_kerasexport(
      "http",
      c("The server answered {response$status} to {method} {.url {url}}.", x = "{said}"),
      status = response$status,
      call = call
    )
  }
  if (is.null(parsed)) {
    abort_kerasexport("http", "The server's answer to {.url {url}} is not JSON.", call = call)
  }
  parsed
}
