# precision = and calibration_data = on export_savedmodel(): R values reach the
# quantizers, reduced artifacts print their precision, refusals are classed.

classifier <- function() {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(11L)
  keras$Sequential(list(
    keras$Input(shape = list(16L)),
    keras$layers$Dense(64L, activation = "relu"),
    keras$layers$Dense(4L, activation = "softmax")
  ))
}

rows <- function(n, seed = 1) {
  withr::with_seed(seed, array(stats::rnorm(n * 16), c(n, 16)))
}

test_that("a float16 ONNX export stays within its budget and prints its precision", {
  skip_unless_backend("tensorflow") # the reduction is the same from every backend
  model <- classifier()
  path <- withr::local_tempfile(fileext = ".onnx")
  expect_message(
    export_savedmodel(model, path, format = "onnx", precision = "float16"),
    "float16 by float16 weights",
    class = "kerasexport_export_message"
  )
  artifact <- load_artifact(path)
  expect_identical(artifact$precision, "float16")
  expect_match(paste(format_artifact(artifact), collapse = "\n"), "Precision: float16")
  x <- rows(32, seed = 2)
  expect_lt(relative_error(predict(artifact, x), model_predict(model, x)), 1e-2)
})

test_that("calibration_data takes an R matrix and a generator function of batches", {
  skip_unless_backend("tensorflow")
  model <- classifier()
  path <- withr::local_tempfile(fileext = ".onnx")
  suppressMessages(export_savedmodel(model, path, format = "onnx", precision = "int8",
                                     calibration_data = rows(128), agreement = 0.5))
  expect_identical(load_artifact(path)$precision, "int8")

  batches <- 0
  generator <- function() {
    if (batches == 4) return(NULL)
    batches <<- batches + 1
    rows(32, seed = batches)
  }
  path2 <- withr::local_tempfile(fileext = ".tflite")
  expect_message(
    export_savedmodel(model, path2, format = "litert", precision = "int8",
                      calibration_data = generator, agreement = 0.5),
    "on 128 row\\(s\\)",
    class = "kerasexport_export_message"
  )
  expect_identical(batches, 4)
})

test_that("what a toolchain cannot do, and missing calibration, are classed errors with nothing written", {
  skip_unless_backend("tensorflow")
  model <- classifier()
  dir <- withr::local_tempdir()
  expect_error(
    export_savedmodel(model, file.path(dir, "m.onnx"), format = "onnx", precision = "bfloat16"),
    class = "kerasexport_precision_error"
  )
  expect_error(
    export_savedmodel(model, file.path(dir, "m.onnx"), format = "onnx", precision = "int8"),
    "calibration_data",
    class = "kerasexport_calibration_error"
  )
  expect_error(
    export_savedmodel(model, file.path(dir, "m.onnx"), format = "onnx", precision = "half"),
    class = "kerasexport_precision_error"
  )
  expect_error(
    export_savedmodel(model, file.path(dir, "m.onnx"), format = "onnx", precision = "float16", rtol = 1e-9),
    "over its budget",
    class = "kerasexport_verification_error"
  )
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), character())
})
