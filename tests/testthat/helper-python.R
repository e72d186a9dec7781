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

# A Functional model taking a list of two inputs, 3 and 5 features.
list_model <- function() {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(1L)
  a <- keras$Input(shape = list(3L), name = "a")
  b <- keras$Input(shape = list(5L), name = "b")
  out <- keras$layers$Dense(2L)(keras$layers$Concatenate()(list(a, b)))
  keras$Model(list(a, b), out)
}

# A Functional model taking a dict: float "features" and int32 "ids"; never
# called on data. Built in Python: reticulate cannot hand keras$Model() a
# dict of symbolic tensors.
dict_model <- function() {
  main <- reticulate::py_run_string("
import keras

def _kerasexport_dict_model():
    keras.utils.set_random_seed(1)
    features = keras.Input((4,), name='features')
    ids = keras.Input((6,), name='ids', dtype='int32')
    emb = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(13, 3)(ids))
    joined = keras.layers.Concatenate()([features, emb])
    return keras.Model({'features': features, 'ids': ids}, keras.layers.Dense(2)(joined))
", convert = TRUE)
  main$`_kerasexport_dict_model`()
}

# What Keras's exporter receives for `signature`: (shape, dtype) per input,
# as strings such as "(None, 4) float32", named for dict inputs.
received_signature <- function(model, signature) {
  specs <- kerasexport:::core$signature$normalize(model, kerasexport:::as_py_signature(signature))
  describe <- reticulate::py_eval("lambda s: f'{tuple(s.shape)} {s.dtype}'")
  structure <- specs[[1]]
  if (inherits(structure, "python.builtin.object")) {
    return(describe(structure))
  }
  if (is.list(structure)) {
    return(lapply(structure, describe))
  }
  describe(structure)
}
