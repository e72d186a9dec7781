# write_repository() ----
# The engines' files are checked against their own schemas in
# tests/python/test_deploy_*.py; here, R's side: arguments, the report, errors.

test_that("refuses an unknown engine before calling Python", {
  expect_error(write_repository("a", "b", engine = "mxnet"), class = "kerasexport_option_error")
  expect_error(write_repository(1, "b"), class = "kerasexport_argument_error")
  expect_error(write_repository("a", "b", overwrite = NA), class = "kerasexport_argument_error")
  expect_error(write_repository("a", "b", max_batch_size = 1.5), class = "kerasexport_option_error")
  expect_error(write_repository("a", "b", "triton", 16), class = "kerasexport_option_error")
})

repository_fixture <- local({
  cache <- NULL
  function() {
    if (is.null(cache)) {
      root <- file.path(tempfile("repository-"), "models")
      model <- small_model()
      export_savedmodel(model, file.path(root, "small", "1", "model.onnx"), format = "onnx")
      export_savedmodel(model, file.path(root, "lite", "1", "model.tflite"), format = "litert")
      cache <<- list(root = root, model = model)
    }
    cache
  }
})

test_that("writes a Triton tree and reports what it left out", {
  skip_unless_backend("tensorflow")
  fixture <- repository_fixture()
  out <- file.path(tempfile("triton-"), "models")
  expect_message(report <- write_repository(fixture$root, out, max_batch_size = 4), "Left out")
  expect_equal(report$engine, "triton")
  expect_equal(names(report$models), "small")
  expect_equal(unlist(report$models$small), 1L)
  expect_match(unlist(report$skipped), "'lite'.*LiteRT")
  expect_true(file.exists(file.path(out, "small", "1", "model.onnx")))
  config <- readLines(file.path(out, "small", "config.pbtxt"))
  expect_true("platform: \"onnxruntime_onnx\"" %in% config)
  expect_true("max_batch_size: 4" %in% config)
  expect_error(write_repository(fixture$root, out), class = "kerasexport_path_error")
})

test_that("kserve needs a storage URI, and writes one manifest", {
  skip_unless_backend("tensorflow")
  fixture <- repository_fixture()
  out <- file.path(tempfile("kserve-"), "models")
  expect_error(write_repository(fixture$root, out, engine = "kserve"), class = "kerasexport_option_error")
  report <- suppressMessages(write_repository(fixture$root, out, engine = "kserve", storage_uri = "pvc://models"))
  manifest <- readLines(file.path(out, "inferenceservices.yaml"))
  expect_true("      storageUri: \"pvc://models/small\"" %in% manifest)
  expect_false(dir.exists(file.path(out, "lite")))
})

test_that("a source with nothing the engine runs is a format error, and writes nothing", {
  skip_unless_backend("tensorflow")
  fixture <- repository_fixture()
  out <- file.path(tempfile("tfs-"), "models")
  expect_error(write_repository(fixture$root, out, engine = "tfserving"), class = "kerasexport_format_error")
  expect_false(file.exists(out))
})
