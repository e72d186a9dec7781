# The server does not depend on the Keras backend: these run on the
# tensorflow backend only (tests/python/test_serve_*.py cover the protocols).
skip_unless_serving <- function() {
  skip_unless_backend("tensorflow")
  skip_if_not_installed("curl")
  skip_if_not_installed("processx")
}

# One repository and one background server for the whole file.
serve_fixture <- local({
  cache <- NULL
  function() {
    if (!is.null(cache) && cache$server$process$is_alive()) {
      return(cache)
    }
    root <- file.path(tempfile("serve-"), "models")
    models <- list(small = small_model(), pair = list_model())
    for (name in names(models)) {
      export_savedmodel(models[[name]], file.path(root, name, "1", "model.onnx"), format = "onnx")
    }
    server <- suppressMessages(serve_artifact(root, port = 0, background = TRUE, quiet = TRUE))
    cache <<- list(root = root, models = models, server = server)
    cache
  }
})

withr::defer(
  {
    cached <- environment(serve_fixture)$cache
    if (!is.null(cached)) stop_server(cached$server)
  },
  teardown_env()
)

port_free <- function(lines) gsub("127\\.0\\.0\\.1:[0-9]+", "127.0.0.1:<port>", lines)
# An ONNX file's size varies with the names Keras gave its layers in this session.
size_free <- function(lines) gsub("Size: [0-9.]+ [kMG]?B", "Size: <size>", lines)

# serve_artifact() ----

test_that("a background server answers and prints its URL and models", {
  skip_unless_serving()
  fixture <- serve_fixture()
  server <- fixture$server
  expect_s3_class(server, "kerasexport_server")
  expect_match(server$url, "^http://127\\.0\\.0\\.1:[0-9]+$")
  expect_snapshot(print(server), transform = port_free)
})

test_that("refuses a missing path and unknown options before starting anything", {
  skip_unless_serving()
  expect_error(serve_artifact(tempfile()), class = "kerasexport_artifact_error")
  expect_snapshot(error = TRUE, serve_artifact(tempdir(), max_batch = 4))
  expect_error(serve_artifact(tempdir(), 4), class = "kerasexport_argument_error")
  expect_error(serve_artifact(tempdir(), port = 1e6), class = "kerasexport_argument_error")
})

test_that("a server that cannot start says why, from its log", {
  skip_unless_serving()
  broken <- withr::local_tempfile(fileext = ".onnx")
  writeLines("not onnx", broken)
  error <- expect_error(serve_artifact(broken, port = 0, background = TRUE), class = "kerasexport_server_error")
  expect_match(conditionMessage(error), "stopped before it was ready")
  expect_match(conditionMessage(error), "error: Cannot serve")
})

# load_artifact(<url>) ----

test_that("a served model prints its endpoints as the local artifact does", {
  skip_unless_serving()
  fixture <- serve_fixture()
  remote <- load_artifact(paste0(fixture$server$url, "/v1/models/pair"))
  local <- load_artifact(file.path(fixture$root, "pair", "1", "model.onnx"))
  expect_s3_class(remote, "kerasexport_remote_artifact")
  expect_identical(endpoint_lines(remote), endpoint_lines(local))
  expect_snapshot(print(remote), transform = function(lines) size_free(port_free(lines)))
})

test_that("remote predict() matches local predict() for arrays, lists and named lists", {
  skip_unless_serving()
  fixture <- serve_fixture()
  url <- fixture$server$url
  small_remote <- load_artifact(paste0(url, "/v1/models/small/versions/1"))
  small_local <- load_artifact(file.path(fixture$root, "small", "1", "model.onnx"))
  x <- matrix(seq(-1, 1, length.out = 28), nrow = 7)
  expected <- model_predict(fixture$models$small, x)
  got <- predict(small_remote, x)
  expect_equal(dim(got), dim(predict(small_local, x)))
  expect_equal(got, expected, tolerance = 1e-5)
  expect_equal(predict(small_remote, x, batch_size = 3), expected, tolerance = 1e-5)

  pair_remote <- load_artifact(paste0(url, "/v1/models/pair"))
  pair_local <- load_artifact(file.path(fixture$root, "pair", "1", "model.onnx"))
  a <- matrix(runif(15), 5)
  b <- matrix(runif(25), 5)
  local_out <- predict(pair_local, list(a, b))
  expect_equal(predict(pair_remote, list(a, b)), local_out, tolerance = 1e-5)
  expect_equal(predict(pair_remote, list(b = b, a = a), batch_size = 2), local_out, tolerance = 1e-5)
})

test_that("inputs are checked in R before anything is sent", {
  skip_unless_serving()
  fixture <- serve_fixture()
  remote <- load_artifact(paste0(fixture$server$url, "/v1/models/pair"))
  expect_error(predict(remote, list(c = matrix(1, 2, 3), b = matrix(1, 2, 5))), class = "kerasexport_input_error")
  expect_error(predict(remote, list(matrix(1, 2, 4), matrix(1, 2, 5))), class = "kerasexport_input_error")
  expect_error(predict(remote, list(matrix(1, 2, 3), matrix(1, 2, 5)), endpoint = "nope"), class = "kerasexport_artifact_error")
})

test_that("HTTP failures are classed errors that say what the server answered", {
  skip_unless_serving()
  fixture <- serve_fixture()
  error <- expect_error(load_artifact(paste0(fixture$server$url, "/v1/models/nope")), class = "kerasexport_http_error")
  expect_equal(error$status, 404L)
  expect_match(conditionMessage(error), "Model 'nope' not found")
  expect_error(load_artifact("http://127.0.0.1:9/v1/models/x"), class = "kerasexport_http_error")
  expect_error(load_artifact("http://127.0.0.1:9/v2/models/x"), class = "kerasexport_argument_error")
})

# The page ----

test_that("prints the page's address, and opens it in the browser with open = TRUE", {
  skip_unless_serving()
  fixture <- serve_fixture()
  opened <- character()
  withr::local_options(browser = function(url) opened <<- c(opened, url))
  path <- file.path(fixture$root, "small", "1", "model.onnx")
  expect_message(
    server <- serve_artifact(path, port = 0, background = TRUE, quiet = TRUE, open = TRUE),
    "page: .*http://127\\.0\\.0\\.1:[0-9]+/"
  )
  on.exit(stop_server(server), add = TRUE)
  expect_identical(opened, paste0(server$url, "/"))
  page <- http_request(opened)
  expect_identical(page$status, 200L)
  expect_match(rawToChar(page$body), "<title>kerasexport serve</title>", fixed = TRUE)
  expect_output(print(server), paste0("Page: ", server$url, "/"), fixed = TRUE)
})

test_that("open = FALSE opens nothing, and open must be TRUE or FALSE", {
  skip_unless_serving()
  fixture <- serve_fixture()
  withr::local_options(browser = function(url) stop("the browser was opened"))
  path <- file.path(fixture$root, "small", "1", "model.onnx")
  server <- suppressMessages(serve_artifact(path, port = 0, background = TRUE, quiet = TRUE, open = FALSE))
  stop_server(server)
  expect_false(server$process$is_alive())
  expect_error(serve_artifact(path, open = "yes"), class = "kerasexport_argument_error")
  expect_error(serve_artifact(path, open = NA), class = "kerasexport_argument_error")
})

# stop_server() and no orphans ----

test_that("stop_server() stops the server and can be called again", {
  skip_unless_serving()
  fixture <- serve_fixture()
  server <- suppressMessages(serve_artifact(file.path(fixture$root, "small", "1", "model.onnx"), port = 0, background = TRUE, token = "t0ken"))
  remote <- load_artifact(paste0(server$url, "/v1/models/model"))
  expect_equal(dim(predict(remote, matrix(0, 2, 4))), c(2L, 3L))
  expect_identical(stop_server(server), server)
  expect_false(server$process$is_alive())
  expect_equal(server$process$get_exit_status(), 0L)
  expect_silent(stop_server(server))
  expect_output(print(server), "Status: stopped")
  expect_error(predict(remote, matrix(0, 2, 4)), class = "kerasexport_http_error")
})

wait_gone <- function(pid, seconds = 15) {
  deadline <- Sys.time() + seconds
  while (Sys.time() < deadline) {
    if (!pid %in% ps::ps_pids()) return(TRUE)
    Sys.sleep(0.1)
  }
  FALSE
}

test_that("the server ends when its object is garbage-collected", {
  skip_unless_serving()
  skip_if_not_installed("ps")
  fixture <- serve_fixture()
  server <- suppressMessages(serve_artifact(file.path(fixture$root, "small", "1", "model.onnx"), port = 0, background = TRUE))
  pid <- server$process$get_pid()
  rm(server)
  gc()
  expect_true(wait_gone(pid))
})

test_that("the server ends with the R session that started it", {
  skip_unless_serving()
  skip_if_not_installed("callr")
  skip_if_not_installed("ps")
  fixture <- serve_fixture()
  path <- file.path(fixture$root, "small", "1", "model.onnx")
  pid <- callr::r(function(path) {
    server <- kerasexport::serve_artifact(path, port = 0, background = TRUE)
    server$process$get_pid()
  }, args = list(path = path), timeout = 120)
  expect_true(wait_gone(pid))
})

# gRPC ----

free_port <- function() {
  socket <- reticulate::import("socket")
  sock <- socket$socket()
  on.exit(sock$close())
  sock$bind(reticulate::tuple("127.0.0.1", 0L))
  sock$getsockname()[[2]]
}

test_that("grpc_port serves gRPC beside HTTP and is printed", {
  skip_unless_serving()
  fixture <- serve_fixture()
  expect_null(fixture$server$grpc)
  port <- free_port()
  server <- serve_artifact(file.path(fixture$root, "small", "1", "model.onnx"), port = 0,
    grpc_port = port, background = TRUE, quiet = TRUE)
  on.exit(stop_server(server), add = TRUE)
  expect_identical(server$grpc, paste0("127.0.0.1:", port))
  expect_output(print(server), paste0("gRPC: 127.0.0.1:", port), fixed = TRUE)
  # A tritonclient.grpc call from the server's Python answers.
  triton <- reticulate::import("tritonclient.grpc")
  client <- triton$InferenceServerClient(server$grpc)
  expect_true(client$is_model_ready("model"))
  client$close()
})

test_that("grpc_port must be a port", {
  skip_unless_serving()
  expect_error(serve_artifact(tempdir(), grpc_port = -1), class = "kerasexport_argument_error")
  expect_error(serve_artifact(tempdir(), grpc_port = "8500"), class = "kerasexport_argument_error")
})
