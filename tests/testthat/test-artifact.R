# An artifact built in R, without Python: two inputs, two outputs, as
# `Artifact.describe()` would give it.
fake_artifact <- function() {
  tensor <- function(name, dtype, shape) list(name = name, dtype = dtype, shape = shape)
  endpoint <- function(name, serving_default, same_as = NULL) {
    list(
      name = name, kind = "signature", serving_default = serving_default, same_as = same_as,
      inputs = list(tensor("a", "float32", list(NULL, 4L)), tensor("b", "int8", list(NULL, 3L))),
      outputs = list(tensor("y", "float32", list(NULL, 2L)), tensor("z", "float32", NULL))
    )
  }
  kerasexport:::new_artifact(NULL, list(
    path = "/models/two-inputs", format = "tf_saved_model", size = 12345,
    default_endpoint = "serving_default",
    endpoints = list(endpoint("serve", FALSE), endpoint("serving_default", TRUE, same_as = "serve"))
  ))
}

good_inputs <- function(rows = 3) {
  list(a = matrix(0.5, rows, 4), b = matrix(1L, rows, 3))
}

# Paths and sizes differ between runs and machines.
scrub <- function(lines) {
  lines <- gsub("'[^']*\\.onnx'", "'<path>'", lines)
  gsub("Size: [0-9.]+ k?B", "Size: <size>", lines)
}

# the artifact object, without Python ----

test_that("print() shows format, size, endpoints, inputs and outputs", {
  expect_snapshot(print(fake_artifact()))
})

test_that("print() returns the artifact invisibly", {
  artifact <- fake_artifact()
  capture.output(result <- withVisible(print(artifact)))
  expect_false(result$visible)
  expect_identical(result$value, artifact)
})

test_that("print() writes to standard output, not to the message stream", {
  artifact <- fake_artifact()
  expect_output(print(artifact), "Endpoint \"serving_default\"")
  expect_silent(output <- capture.output(print(artifact)))
  expect_identical(output[[1]], "<kerasexport_artifact>")
  expect_match(output, "Input b: int8 \\(NA, 3\\)", all = FALSE)
  sunk <- withr::local_tempfile()
  sink(sunk)
  print(artifact)
  sink()
  expect_identical(readLines(sunk), output)
})

test_that("shapes keep NA for dynamic dimensions and NULL for unknown rank", {
  artifact <- fake_artifact()
  outputs <- artifact$endpoints$serving_default$outputs
  expect_identical(outputs[[1]]$shape, c(NA, 2L))
  expect_null(outputs[[2]]$shape)
})

test_that("sizes are printed in decimal units", {
  expect_identical(kerasexport:::format_bytes(837), "837 B")
  expect_identical(kerasexport:::format_bytes(35200), "35.2 kB")
  expect_identical(kerasexport:::format_bytes(2.5e9), "2.5 GB")
})

# inputs checked in R, before Python ----

test_that("an unknown endpoint is an artifact error that lists the available ones", {
  expect_snapshot(predict(fake_artifact(), good_inputs(), endpoint = "predict"), error = TRUE)
})

test_that("missing and unexpected input names are input errors", {
  expect_snapshot(predict(fake_artifact(), list(a = matrix(0, 2, 4), c = 1)), error = TRUE)
})

test_that("a list of the wrong length is an input error", {
  expect_error(predict(fake_artifact(), list(matrix(0, 2, 4))), class = "kerasexport_input_error")
})

test_that("a single array for a two-input endpoint is an input error", {
  expect_error(predict(fake_artifact(), matrix(0, 2, 4)), class = "kerasexport_input_error")
})

test_that("a wrong rank is an input error naming the input, shape and dtype", {
  x <- good_inputs()
  x$a <- array(0, c(3, 4, 1))
  expect_snapshot(predict(fake_artifact(), x), error = TRUE)
})

test_that("a wrong fixed dimension is an input error that names the dimension", {
  x <- good_inputs()
  x$a <- matrix(0, 3, 5)
  expect_error(predict(fake_artifact(), x), "expects shape \\(NA, 4\\)", class = "kerasexport_input_error")
  expect_snapshot(predict(fake_artifact(), x), error = TRUE)
})

test_that("fractional doubles for an integer input are refused", {
  x <- good_inputs()
  x$b <- matrix(1.5, 3, 3)
  expect_snapshot(predict(fake_artifact(), x), error = TRUE)
})

test_that("values out of the integer type's range are refused", {
  x <- good_inputs()
  x$b <- matrix(200L, 3, 3) # int8 holds -128..127
  expect_error(predict(fake_artifact(), x), "outside int8's range", class = "kerasexport_input_error")
})

test_that("NA for an integer input is refused", {
  x <- good_inputs()
  x$b[1, 1] <- NA
  expect_error(predict(fake_artifact(), x), "Missing values", class = "kerasexport_input_error")
})

test_that("inputs with different batch sizes are refused", {
  x <- good_inputs()
  x$b <- matrix(1L, 2, 3)
  expect_error(predict(fake_artifact(), x), "different batch sizes", class = "kerasexport_input_error")
})

test_that("a bad batch_size is an argument error", {
  expect_error(predict(fake_artifact(), good_inputs(), batch_size = 0), class = "kerasexport_argument_error")
  expect_error(predict(fake_artifact(), good_inputs(), batch_size = 2.5), class = "kerasexport_argument_error")
})

test_that("an artifact from an earlier session refuses to predict, once inputs are fine", {
  expect_snapshot(predict(fake_artifact(), good_inputs()), error = TRUE)
})

test_that("load_artifact() refuses a missing path and a directory that is not a SavedModel", {
  expect_error(load_artifact(file.path(tempdir(), "absent.onnx")), "nothing exists", class = "kerasexport_artifact_error")
  empty <- withr::local_tempfile()
  dir.create(empty)
  expect_error(load_artifact(empty), "saved_model.pb", class = "kerasexport_artifact_error")
  expect_error(load_artifact(1), class = "kerasexport_argument_error")
})

# with Python: loading ----

test_that("a file that is not ONNX is an artifact error with its Python parent", {
  skip_if_no_keras()
  bogus <- withr::local_tempfile(fileext = ".onnx")
  writeBin(as.raw(c(1:20, 0, 255)), bogus)
  err <- tryCatch(load_artifact(bogus), error = identity)
  expect_s3_class(err, "kerasexport_artifact_error")
  expect_s3_class(err, "kerasexport_error")
  expect_match(conditionMessage(err), "not an ONNX model")
  expect_s3_class(err$parent, "kerasexport_python_error")
  expect_s3_class(err$parent$python, "kerasexport.errors.ArtifactError")
})

# A two-input Functional model (named inputs "a" float, "b" int32) with dict
# outputs "y" and "z", or a single output when `dict_outputs = FALSE`.
two_input_model <- function(dict_outputs = TRUE) {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(3L)
  a <- keras$Input(shape = list(4L), name = "a")
  b <- keras$Input(shape = list(3L), name = "b", dtype = "int32")
  hidden <- keras$layers$Concatenate()(list(a, keras$layers$Flatten()(keras$layers$Embedding(10L, 1L)(b))))
  model <- if (dict_outputs) {
    keras$Model(list(a = a, b = b), list(y = keras$layers$Dense(2L)(hidden), z = keras$layers$Dense(1L)(hidden)))
  } else {
    keras$Model(list(a, b), keras$layers$Dense(2L)(hidden))
  }
  np <- reticulate::import("numpy", convert = FALSE)
  x <- two_inputs(2)
  model(list(a = np$asarray(x$a, dtype = "float32"), b = np$asarray(x$b, dtype = "int32")))
  model
}

two_inputs <- function(rows) {
  list(
    a = matrix(seq(-1, 1, length.out = rows * 4), rows, 4),
    b = matrix(rep_len(c(0L, 3L, 9L, 5L), rows * 3), rows, 3)
  )
}

model_outputs <- function(model, x) {
  np <- reticulate::import("numpy", convert = FALSE)
  keras <- reticulate::import("keras", convert = FALSE)
  out <- model(list(a = np$asarray(x$a, dtype = "float32"), b = np$asarray(x$b, dtype = "int32")), training = FALSE)
  reticulate::py_to_r(keras$tree$map_structure(keras$ops$convert_to_numpy, out))
}

# Export (every backend writes every format; a failure here is a failure).
export_to <- function(model, format) {
  path <- withr::local_tempfile(fileext = if (format == "onnx") ".onnx" else "", .local_envir = parent.frame())
  suppressMessages(export_savedmodel(model, path, format = format))
  path
}

# Load and predict in a fresh R session: no model code, nothing in memory.
# Each element of `calls` is a list of predict()'s arguments after the
# artifact; one session answers them all (a session costs seconds).
predict_fresh <- function(path, calls) {
  callr::r(function(path, calls) {
    artifact <- kerasexport::load_artifact(path)
    list(
      y = lapply(calls, function(args) do.call(predict, c(list(artifact), args))),
      heavy = intersect(c("tensorflow", "keras", "jax", "torch"), names(reticulate::import("sys")$modules))
    )
  }, args = list(path, calls))
}

# with Python: round trips in a fresh session ----

for (format in c("tf_saved_model", "onnx")) {
  test_that(paste("a single-input", format, "artifact predicts like the model in a fresh session"), {
    skip_if_no_keras()
    skip_if_not_installed("callr")
    model <- small_model()
    path <- export_to(model, format)
    x <- matrix(seq(-2, 2, length.out = 7 * 4), 7, 4)
    fresh <- predict_fresh(path, list(whole = list(x), batched = list(x, batch_size = 3)))
    expect_equal(dim(fresh$y$whole), c(7L, 3L))
    expect_lt(relative_error(fresh$y$whole, model_predict(model, x)), 1e-5)
    expect_lt(relative_error(fresh$y$batched, model_predict(model, x)), 1e-5)
    if (format == "onnx") {
      expect_identical(fresh$heavy, character())
    }
  })

  test_that(paste("a two-input", format, "artifact takes lists and named lists"), {
    skip_if_no_keras()
    skip_if_not_installed("callr")
    model <- two_input_model(dict_outputs = FALSE)
    path <- export_to(model, format)
    x <- two_inputs(5)
    expected <- model_outputs(model, x)
    fresh <- predict_fresh(path, list(by_position = list(unname(x)), by_name = list(rev(x))))$y
    by_position <- fresh$by_position
    by_name <- fresh$by_name
    expect_equal(dim(by_position), c(5L, 2L))
    expect_lt(relative_error(by_position, expected), 1e-5)
    expect_lt(relative_error(by_name, expected), 1e-5)
  })
}

for (format in c("tf_saved_model", "onnx")) {
  test_that(paste("dict outputs of a", format, "artifact come back as a named list of arrays"), {
    skip_if_no_keras()
    skip_if_not_installed("callr")
    model <- two_input_model(dict_outputs = TRUE)
    path <- export_to(model, format)
    x <- two_inputs(4)
    expected <- model_outputs(model, x)
    got <- predict_fresh(path, list(list(x)))$y[[1]]
    expect_named(got, c("y", "z"), ignore.order = TRUE)
    expect_equal(dim(got$y), c(4L, 2L))
    expect_equal(dim(got$z), c(4L, 1L))
    expect_lt(relative_error(got$y, expected$y), 1e-5)
    expect_lt(relative_error(got$z, expected$z), 1e-5)
  })
}

# with Python: in this session ----

test_that("print() of a loaded SavedModel lists serve and serving_default", {
  skip_if_no_keras()
  path <- export_to(two_input_model(dict_outputs = FALSE), "tf_saved_model")
  artifact <- load_artifact(path)
  expect_setequal(names(artifact$endpoints), c("serve", "serving_default"))
  expect_identical(artifact$default_endpoint, "serving_default")
  expect_true(artifact$endpoints$serving_default$serving_default)
  expect_identical(artifact$endpoints$serving_default$same_as, "serve")
  expect_identical(artifact$endpoints$serve$inputs[[2]], list(name = "b", dtype = "int32", shape = c(NA, 3L)))
  withr::local_options(cli.width = 200) # one line per endpoint
  output <- capture.output(print(artifact))
  expect_match(output, "Endpoint \"serving_default\" \\(same as \"serve\", serving default, used by `predict\\(\\)`\\)", all = FALSE)
  expect_match(output, "Input b: int32 \\(NA, 3\\)", all = FALSE)
})

test_that("print() of a loaded ONNX artifact", {
  skip_if_no_keras()
  path <- export_to(two_input_model(dict_outputs = FALSE), "onnx")
  artifact <- load_artifact(path)
  expect_snapshot(print(artifact), transform = scrub, variant = keras_backend())
})

test_that("Python's own checks arrive as classed errors for NumPy inputs", {
  skip_if_no_keras()
  path <- export_to(small_model(), "onnx")
  artifact <- load_artifact(path)
  np <- reticulate::import("numpy", convert = FALSE)
  err <- tryCatch(predict(artifact, np$zeros(c(2L, 5L))), error = identity)
  expect_s3_class(err, "kerasexport_input_error")
  expect_match(conditionMessage(err), "expects shape \\(None, 4\\)")
})

test_that("doubles beyond float32's range are refused, NaN and Inf are not", {
  skip_if_no_keras()
  artifact <- load_artifact(export_to(small_model(), "onnx"))
  x <- matrix(0.5, 2, 4)
  x[2, 2] <- 1e300
  expect_error(predict(artifact, x), "Input .* expects dtype float32.*overflow float32", class = "kerasexport_input_error")
  x[2, 2] <- NaN
  x[1, 1] <- Inf
  expect_equal(dim(predict(artifact, x)), c(2L, 3L))
})

test_that("a vector is a rank-1 input", {
  skip_if_no_keras()
  keras <- reticulate::import("keras")
  inp <- keras$Input(shape = list(), name = "v")
  model <- keras$Model(inp, keras$layers$Lambda(function(t) t * 2)(inp))
  artifact <- load_artifact(export_to(model, "onnx"))
  expect_equal(as.vector(predict(artifact, c(1, 2.5, -3))), c(2, 5, -6))
  expect_equal(as.vector(predict(artifact, 4)), 8)
})

test_that("whole doubles are cast exactly to an integer input", {
  skip_if_no_keras()
  model <- two_input_model(dict_outputs = FALSE)
  path <- export_to(model, "onnx")
  artifact <- load_artifact(path)
  x <- two_inputs(3)
  as_double <- x
  storage.mode(as_double$b) <- "double"
  expect_identical(predict(artifact, as_double), predict(artifact, x))
})
