# input_spec(), without Python ----

test_that("input_spec() keeps NA for unknown dimensions and makes integers", {
  spec <- input_spec(c(NA, 28, 28, 1))
  expect_s3_class(spec, "kerasexport_input_spec")
  expect_identical(spec$shape, c(NA, 28L, 28L, 1L))
  expect_identical(spec$dtype, "float32")
  expect_null(spec$name)
})

test_that("input_spec() accepts NULL for unknown dimensions in a list", {
  expect_identical(input_spec(list(NULL, 10))$shape, c(NA, 10L))
})

test_that("input_spec() rejects fractional dimensions", {
  expect_error(input_spec(c(NA, 2.5)), class = "kerasexport_signature_error")
  expect_snapshot(input_spec(c(NA, 2.5)), error = TRUE)
})

test_that("input_spec() rejects negative dimensions and points to NA", {
  expect_snapshot(input_spec(c(-1, 3)), error = TRUE)
})

test_that("input_spec() rejects unknown dtypes", {
  expect_error(input_spec(c(NA, 3), dtype = "float"), class = "kerasexport_signature_error")
  expect_snapshot(input_spec(c(NA, 3), dtype = "flaot32"), error = TRUE)
})

test_that("input_spec() rejects a non-numeric shape", {
  expect_error(input_spec("28x28"), class = "kerasexport_signature_error")
})

test_that("input_spec() prints its shape, dtype and name", {
  expect_snapshot(print(input_spec(c(NA, 20), dtype = "int32", name = "tokens")))
})

test_that("input_spec() prints to standard output", {
  expect_silent(output <- capture.output(print(input_spec(c(NA, 4)))))
  expect_identical(output, "<input_spec> shape (NA, 4), dtype float32")
})

# conversion to Python, checked on the Python side ----

py_spec_of <- function(x) {
  spec <- kerasexport:::as_py_signature(x)
  list(shape = reticulate::py_to_r(reticulate::import_builtins()$list(spec$shape)), dtype = spec$dtype, name = spec$name)
}

test_that("an input_spec() becomes a keras InputSpec with None dims", {
  skip_if_no_keras()
  spec <- kerasexport:::as_py_signature(input_spec(c(NA, 28, 28, 1), dtype = "int64", name = "img"))
  expect_true(inherits(spec, "keras.src.layers.input_spec.InputSpec"))
  builtins <- reticulate::import_builtins()
  expect_identical(builtins$repr(spec$shape), "[None, 28, 28, 1]")
  expect_identical(spec$dtype, "int64")
  expect_identical(spec$name, "img")
})

test_that("a numeric shape becomes a tuple of Python ints and None", {
  skip_if_no_keras()
  shape <- kerasexport:::as_py_signature(c(NA, 3))
  expect_identical(reticulate::import_builtins()$repr(shape), "(None, 3)")
})

test_that("an R array gives its shape, a dynamic batch and its type", {
  skip_if_no_keras()
  builtins <- reticulate::import_builtins()
  spec <- kerasexport:::as_py_signature(array(1L, dim = c(2, 5)))
  expect_identical(builtins$repr(spec$shape), "[None, 5]")
  expect_identical(spec$dtype, "int32")
  spec <- kerasexport:::as_py_signature(array(0.5, dim = c(4, 3, 2)))
  expect_identical(builtins$repr(spec$shape), "[None, 3, 2]")
  expect_identical(spec$dtype, "float32")
})

test_that("a named list becomes a dict and an unnamed list a list", {
  skip_if_no_keras()
  builtins <- reticulate::import_builtins()
  named <- kerasexport:::as_py_signature(list(a = c(NA, 2), b = input_spec(c(NA, 3), "int32")))
  expect_identical(builtins$type(named)$`__name__`, "dict")
  expect_identical(sort(reticulate::py_to_r(builtins$list(named$keys()))), c("a", "b"))
  unnamed <- kerasexport:::as_py_signature(list(c(NA, 2), c(NA, 3)))
  expect_length(unnamed, 2)
})

test_that("a partly named list is a signature error", {
  skip_if_no_keras()
  expect_error(
    kerasexport:::as_py_signature(list(a = c(NA, 2), c(NA, 3))),
    class = "kerasexport_signature_error"
  )
})

test_that("the signature reaches Keras: the SavedModel takes that shape", {
  skip_if_no_keras()
  target <- withr::local_tempfile()
  suppressMessages(export_savedmodel(small_model(), target, input_signature = c(NA, 4)))
  tf <- reticulate::import("tensorflow")
  loaded <- tf$saved_model$load(target)
  spec <- loaded$serve$input_signature[[1]]
  expect_identical(reticulate::import_builtins()$repr(spec$shape$as_list()), "[None, 4]")
  expect_identical(spec$dtype$name, "float32")
})

# every form, as Keras's exporter receives it ----

test_that("NULL lets Keras infer the signature with an unknown batch", {
  skip_if_no_keras()
  expect_identical(received_signature(small_model(), NULL), "(None, 4) float32")
})

test_that("a numeric shape with NA gives int dims and the model's dtype", {
  skip_if_no_keras()
  expect_identical(received_signature(small_model(), c(NA, 4)), "(None, 4) float32")
})

test_that("an unnamed list describes positional inputs in order", {
  skip_if_no_keras()
  expect_identical(
    received_signature(list_model(), list(c(NA, 3), c(NA, 5))),
    list("(None, 3) float32", "(None, 5) float32")
  )
})

test_that("a named list for a model taking a list of named inputs matches them by name", {
  skip_if_no_keras()
  expect_identical(
    received_signature(list_model(), list(b = c(NA, 5), a = c(NA, 3))),
    list("(None, 3) float32", "(None, 5) float32")
  )
  expect_error(
    export_savedmodel(list_model(), withr::local_tempfile(fileext = ".onnx"), format = "onnx",
                      input_signature = list(b = c(NA, 5), z = c(NA, 3))),
    "named \\['a', 'b'\\]",
    class = "kerasexport_signature_error"
  )
})

test_that("a list-input model exports with a named-list signature and matches the model", {
  skip_if_no_keras()
  model <- list_model()
  target <- withr::local_tempfile(fileext = ".onnx")
  suppressMessages(export_savedmodel(
    model, target, format = "onnx", input_signature = list(b = c(NA, 5), a = input_spec(c(NA, 3)))
  ))
  artifact <- load_artifact(target)
  a <- matrix(seq(-1, 1, length.out = 6), 2, 3)
  b <- matrix(seq(1, -1, length.out = 10), 2, 5)
  np <- reticulate::import("numpy", convert = FALSE)
  keras <- reticulate::import("keras", convert = FALSE)
  expected <- reticulate::py_to_r(keras$ops$convert_to_numpy(
    model(list(np$asarray(a, dtype = "float32"), np$asarray(b, dtype = "float32")))
  ))
  expect_lt(relative_error(predict(artifact, list(a = a, b = b)), expected), 1e-5)
})

test_that("a named list describes dict inputs; int inputs stay int", {
  skip_if_no_keras()
  received <- received_signature(dict_model(), list(ids = c(NA, 6), features = c(NA, 4)))
  expect_identical(received[order(names(received))], list(features = "(None, 4) float32", ids = "(None, 6) int32"))
})

test_that("input_spec() keeps its dtype and name", {
  skip_if_no_keras()
  expect_identical(
    received_signature(small_model(), input_spec(c(NA, 4), dtype = "float64")),
    "(None, 4) float64"
  )
})

test_that("keras InputSpec, tf TensorSpec and KerasTensor pass through", {
  skip_if_no_keras()
  keras <- reticulate::import("keras")
  expect_identical(
    received_signature(small_model(), keras$InputSpec(shape = list(NULL, 4L), dtype = "float16")),
    "(None, 4) float16"
  )
  expect_identical(
    received_signature(small_model(), keras$Input(shape = list(4L), dtype = "float32")),
    "(None, 4) float32"
  )
  skip_if_not(reticulate::py_module_available("tensorflow"))
  tf <- reticulate::import("tensorflow")
  expect_identical(
    received_signature(small_model(), tf$TensorSpec(list(NULL, 4L), tf$float64)),
    "(None, 4) float64"
  )
})

test_that("an R array gives its trailing shape and its type", {
  skip_if_no_keras()
  expect_identical(received_signature(small_model(), array(0.5, dim = c(2, 4))), "(None, 4) float32")
  ids <- array(1L, dim = c(3, 6))
  received <- received_signature(dict_model(), list(features = array(0, dim = c(1, 4)), ids = ids))
  expect_identical(received$ids, "(None, 6) int32")
})

test_that("a never-called dict-input model exports to ONNX with a named list", {
  skip_if_no_keras()
  target <- withr::local_tempfile(fileext = ".onnx")
  suppressMessages(export_savedmodel(
    dict_model(), target, format = "onnx",
    input_signature = list(features = c(NA, 4), ids = input_spec(c(NA, 6), dtype = "int32"))
  ))
  ort <- reticulate::import("onnxruntime")
  inputs <- ort$InferenceSession(target)$get_inputs()
  got <- vapply(inputs, function(i) paste(i$name, i$type), character(1))
  expect_setequal(got, c("features tensor(float)", "ids tensor(int32)"))
})
