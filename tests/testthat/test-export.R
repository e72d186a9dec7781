# arguments checked in R ----

test_that("a non-model object is a model error", {
  expect_error(export_savedmodel(list(1), tempfile()), class = "kerasexport_model_error")
  expect_snapshot(export_savedmodel(data.frame(x = 1), "model"), error = TRUE)
})

test_that("an unknown format is a format error that suggests the closest", {
  skip_if_no_keras()
  model <- small_model()
  target <- withr::local_tempfile()
  expect_snapshot(export_savedmodel(model, target, format = "onnxx"), error = TRUE)
  expect_false(file.exists(target))
})

test_that("unnamed options in ... are an option error", {
  skip_if_no_keras()
  expect_error(
    export_savedmodel(small_model(), withr::local_tempfile(), 17),
    class = "kerasexport_option_error"
  )
})

test_that("whole doubles in options become Python integers", {
  converted <- kerasexport:::as_py_options(list(opset_version = 17, rtol = 1e-3, kw = list(a = 2)))
  expect_identical(converted$opset_version, 17L)
  expect_identical(converted$rtol, 1e-3)
  expect_identical(converted$kw$a, 2L)
})

# SavedModel on the TensorFlow backend ----

test_that("export_savedmodel() returns the model invisibly", {
  skip_if_no_keras()
  model <- small_model()
  target <- withr::local_tempfile()
  result <- suppressMessages(withVisible(model |> export_savedmodel(target)))
  expect_false(result$visible)
  expect_identical(result$value, model)
  expect_true(dir.exists(target))
})

test_that("the SavedModel's serve endpoint reproduces the model", {
  skip_if_no_keras()
  model <- small_model()
  target <- withr::local_tempfile()
  suppressMessages(export_savedmodel(model, target))

  tf <- reticulate::import("tensorflow")
  np <- reticulate::import("numpy", convert = FALSE)
  x <- matrix(seq(-1, 1, length.out = 28), nrow = 7, ncol = 4)
  loaded <- tf$saved_model$load(target)
  served <- loaded$serve(np$asarray(x, dtype = "float32"))$numpy()
  expect_equal(dim(served), c(7L, 3L))
  expect_lt(relative_error(served, model_predict(model, x)), 1e-5)
})

test_that("the SavedModel has a serving_default signature for TF-Serving", {
  skip_if_no_keras()
  model <- small_model()
  target <- withr::local_tempfile()
  suppressMessages(export_savedmodel(model, target))

  tf <- reticulate::import("tensorflow")
  loaded <- tf$saved_model$load(target)
  signature <- loaded$signatures[["serving_default"]]
  x <- matrix(c(0.5, -2, 1, 3), nrow = 1)
  args <- signature$structured_input_signature[[2]]
  input_name <- names(args)[[1]]
  feed <- list(tf$constant(x, dtype = "float32"))
  names(feed) <- input_name
  outputs <- do.call(signature, feed)
  served <- outputs[[1]]$numpy()
  expect_lt(relative_error(served, model_predict(model, x)), 1e-5)
})

test_that("the export reports one line: format, backend, route, error, time", {
  skip_if_no_keras()
  target <- withr::local_tempfile()
  expect_message(
    export_savedmodel(small_model(), target),
    regexp = "Exported tf_saved_model from the (tensorflow|jax|torch) backend by the (native|cross-backend) route; verified, max relative error",
    class = "kerasexport_export_message"
  )
})

test_that("an existing target is a path error and stays untouched", {
  skip_if_no_keras()
  target <- withr::local_tempfile()
  dir.create(target)
  writeLines("keep me", file.path(target, "marker.txt"))
  expect_error(
    export_savedmodel(small_model(), target),
    class = "kerasexport_path_error"
  )
  expect_identical(list.files(target), "marker.txt")
  expect_identical(readLines(file.path(target, "marker.txt")), "keep me")
})

test_that("the existing-target error says how to overwrite, in R terms", {
  withr::local_dir(withr::local_tempdir())
  dir.create("model")
  writeLines("old", "model.onnx")
  expect_snapshot(kerasexport:::check_target_free("model", "tf_saved_model", overwrite = FALSE), error = TRUE)
  expect_error(
    kerasexport:::check_target_free("model.onnx", "onnx", overwrite = FALSE),
    class = "kerasexport_path_error", regexp = "overwrite = TRUE"
  )
  # The wrong kind is left to Python, which says so.
  expect_null(kerasexport:::check_target_free("model.onnx", "tf_saved_model", overwrite = FALSE))
  expect_null(kerasexport:::check_target_free("model", "tf_saved_model", overwrite = TRUE))
})

# The examples of keras3's `?export_savedmodel`, verbatim, in fresh directories.
test_that("the SavedModel example runs as documented, creating path/to", {
  skip_if_no_keras()
  withr::local_dir(withr::local_tempdir())
  model <- small_model()
  input_data <- reticulate::np_array(matrix(seq(-1, 1, length.out = 8), nrow = 2), dtype = "float32")

  suppressMessages(model |> export_savedmodel("path/to/location"))

  tf <- reticulate::import("tensorflow")
  reloaded_artifact <- tf$saved_model$load("path/to/location")
  predictions <- reloaded_artifact$serve(input_data)
  expect_lt(relative_error(predictions$numpy(), model_predict(model, reticulate::py_to_r(input_data))), 1e-5)
})

test_that("the ONNX example runs as documented: any file name", {
  skip_if_no_keras()
  withr::local_dir(withr::local_tempdir())
  model <- small_model()

  suppressMessages(model |> export_savedmodel("path/to/location", format = "onnx"))

  onnxruntime <- reticulate::import("onnxruntime")
  ort_session <- onnxruntime$InferenceSession("path/to/location")
  input_data <- list(reticulate::np_array(matrix(seq(-1, 1, length.out = 8), nrow = 2), dtype = "float32"))
  names(input_data) <- sapply(ort_session$get_inputs(), `[[`, "name")
  predictions <- ort_session$run(NULL, input_data)
  expect_lt(relative_error(predictions[[1]], model_predict(model, reticulate::py_to_r(input_data[[1]]))), 1e-5)
  expect_identical(list.files(".", recursive = TRUE, all.files = TRUE), "path/to/location")
})

test_that("a failed export removes the directories it created", {
  skip_if_no_keras()
  withr::local_dir(withr::local_tempdir())
  keras <- reticulate::import("keras")
  inp <- keras$Input(shape = list(4L))
  # An R function cannot reach the worker: the export fails after staging.
  model <- keras$Model(inp, keras$layers$Lambda(function(t) t * 2)(inp))
  expect_error(
    export_savedmodel(model, "path/to/location", route = "cross-backend"),
    class = "kerasexport_route_error"
  )
  expect_identical(list.files(".", all.files = TRUE, no.. = TRUE), character())
})

test_that("a negative rtol is an argument error", {
  skip_if_no_keras()
  expect_error(
    export_savedmodel(small_model(), withr::local_tempfile(), rtol = -1),
    class = "kerasexport_argument_error"
  )
})

test_that("overwrite = TRUE replaces an existing artifact", {
  skip_if_no_keras()
  target <- withr::local_tempfile()
  dir.create(target)
  writeLines("old", file.path(target, "marker.txt"))
  suppressMessages(export_savedmodel(small_model(), target, overwrite = TRUE))
  expect_false(file.exists(file.path(target, "marker.txt")))
  expect_true(file.exists(file.path(target, "saved_model.pb")))
  expect_identical(
    grep("^\\.kerasexport-staging", list.files(dirname(target), all.files = TRUE), value = TRUE),
    character()
  )
})

test_that("a Python error from the core keeps its Python parent", {
  skip_if_no_keras()
  err <- tryCatch(
    export_savedmodel(small_model(), withr::local_tempfile(), bogus_option = TRUE),
    error = identity
  )
  expect_s3_class(err, "kerasexport_option_error")
  expect_s3_class(err, "kerasexport_error")
  expect_match(conditionMessage(err), "bogus_option")
  expect_s3_class(err$parent, "kerasexport_python_error")
  expect_s3_class(err$parent$python, "kerasexport.errors.OptionError")
})

# options and routes ----

test_that("opset_version in ... lands in the ONNX file", {
  skip_if_no_keras()
  target <- withr::local_tempfile(fileext = ".onnx")
  suppressMessages(export_savedmodel(small_model(), target, format = "onnx", opset_version = 13))
  default_opset <- reticulate::py_eval(
    "lambda path: [o.version for o in __import__('onnx').load(path).opset_import if o.domain == '']"
  )
  expect_identical(default_opset(target), 13L)
})

test_that("an option for another backend is an option error naming those that apply", {
  skip_unless_backend(c("tensorflow", "torch"))
  expect_error(
    export_savedmodel(small_model(), withr::local_tempfile(), jax2tf_kwargs = list(enable_xla = TRUE)),
    class = "kerasexport_option_error",
    regexp = "jax2tf_kwargs do not apply.*Options that apply"
  )
})

test_that("the pipe exports a torch model to a SavedModel by the cross route", {
  skip_unless_backend("torch")
  model <- small_model()
  target <- withr::local_tempfile()
  expect_message(
    result <- model |> export_savedmodel(target),
    regexp = "from the torch backend by the cross-backend route; verified",
    class = "kerasexport_export_message"
  )
  expect_identical(result, model)
  tf <- reticulate::import("tensorflow")
  np <- reticulate::import("numpy", convert = FALSE)
  x <- matrix(seq(-2, 2, length.out = 20), nrow = 5, ncol = 4)
  served <- tf$saved_model$load(target)$serve(np$asarray(x, dtype = "float32"))$numpy()
  expect_lt(relative_error(served, model_predict(model, x)), 1e-5)
  expect_identical(
    grep("^\\.kerasexport-staging", list.files(dirname(target), all.files = TRUE), value = TRUE),
    character()
  )
})

test_that("route = \"cross-backend\" in ... forces the worker route", {
  skip_if_no_keras()
  target <- withr::local_tempfile(fileext = ".onnx")
  expect_message(
    export_savedmodel(small_model(), target, format = "onnx", route = "cross-backend"),
    regexp = "by the cross-backend route",
    class = "kerasexport_export_message"
  )
  expect_true(file.exists(target))
})
