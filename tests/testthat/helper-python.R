# Tests that need Python skip, rather than fail, when it is missing.
skip_if_no_keras <- function() {
  if (!kerasexport:::python_ready()) {
    testthat::skip("Python with Keras 3 and the kerasexport core is not available")
  }
}

keras_backend <- function() {
  reticulate::import("keras")$backend$backend()
}

skip_unless_backend <- function(backends) {
  skip_if_no_keras()
  if (!keras_backend() %in% backends) {
    testthat::skip(paste("needs the", paste(backends, collapse = " or "), "backend"))
  }
}

# A small Sequential model: 4 features in, 3 out.
small_model <- function(features = 4L) {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(1L)
  keras$Sequential(list(
    keras$Input(shape = list(features)),
    keras$layers$Dense(8L, activation = "relu"),
    keras$layers$Dense(3L)
  ))
}

model_predict <- function(model, x) {
  np <- reticulate::import("numpy", convert = FALSE)
  keras <- reticulate::import("keras", convert = FALSE)
  out <- model(np$asarray(x, dtype = "float32"), training = FALSE)
  reticulate::py_to_r(keras$ops$convert_to_numpy(out))
}

relative_error <- function(actual, expected) {
  max(abs(actual - expected)) / max(abs(expected))
}
