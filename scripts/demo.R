# `make demo`: build a small model in R, export it, reload the SavedModel
# with TensorFlow in a fresh R process, and compare the predictions.
library(kerasexport)

keras <- kerasexport:::import_quietly("keras") # no TensorFlow start-up notices
np <- reticulate::import("numpy", convert = FALSE)
keras$utils$set_random_seed(42L)
model <- keras$Sequential(list(
  keras$Input(shape = list(8L)),
  keras$layers$Dense(16L, activation = "relu"),
  keras$layers$Dense(3L, activation = "softmax")
))
cat(sprintf("Keras %s, %s backend\n", keras$`__version__`, keras$backend$backend()))

set.seed(1)
x <- matrix(rnorm(5 * 8), nrow = 5)
expected <- reticulate::py_to_r(keras$ops$convert_to_numpy(
  model(np$asarray(x, dtype = "float32"), training = FALSE)
))

export_dir <- file.path(tempfile("kerasexport-demo-"), "model")
dir.create(dirname(export_dir))
model |> export_savedmodel(export_dir)

# A fresh process that knows nothing of the model: TensorFlow alone.
served <- callr::r(
  function(export_dir, x) {
    tf <- reticulate::import("tensorflow")
    loaded <- tf$saved_model$load(export_dir)
    loaded$serve(tf$constant(x, dtype = "float32"))$numpy()
  },
  args = list(export_dir, x),
  env = c(callr::rcmd_safe_env(), RETICULATE_PYTHON = reticulate::py_config()$python)
)

cat("\nModel predictions (Keras, in this process):\n")
print(round(expected, 6))
cat("\nSavedModel predictions (TensorFlow, fresh process):\n")
print(round(served, 6))
cat(sprintf("\nMaximum absolute difference: %.3g\n", max(abs(served - expected))))
unlink(dirname(export_dir), recursive = TRUE)
