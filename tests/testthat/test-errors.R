# Bad calls, as a new user would make them: each gives a classed error with a
# useful message and leaves the disk exactly as it was.

# What is on disk under `dir`: names, sizes and modification times.
disk_state <- function(dir) {
  files <- list.files(dir, recursive = TRUE, all.files = TRUE, include.dirs = TRUE, no.. = TRUE)
  info <- file.info(file.path(dir, files))
  data.frame(file = files, size = info$size, mtime = as.numeric(info$mtime), isdir = info$isdir)
}

# A workspace with an existing SavedModel-like directory and files.
local_workspace <- function(env = parent.frame()) {
  ws <- withr::local_tempfile(.local_envir = env)
  dir.create(file.path(ws, "existing"), recursive = TRUE)
  writeLines("old", file.path(ws, "existing", "saved_model.pb"))
  writeLines("a file", file.path(ws, "a_file"))
  dir.create(file.path(ws, "a_dir.onnx"))
  ws
}

bad_calls <- list(
  # not a model ----
  list("a list", quote(export_savedmodel(list(1), t("m"))), "model", "must be a Keras 3 model, not a list"),
  list("NULL", quote(export_savedmodel(NULL, t("m"))), "model", "not NULL"),
  list("a string", quote(export_savedmodel("model.keras", t("m"))), "model", "not a character vector"),
  list("a data frame", quote(export_savedmodel(data.frame(x = 1), t("m"))), "model", "not a data frame"),
  list("a Python dict", quote(export_savedmodel(reticulate::dict(a = 1), t("m"))), "model", "not a Python dict"),
  list("a never-built model", quote(export_savedmodel(unbuilt, t("m"))), "model", "has not been built"),
  # arguments ----
  list("a numeric path", quote(export_savedmodel(model, 1)), "argument", "`export_dir_base` must be a single non-empty string"),
  list("two paths", quote(export_savedmodel(model, c(t("a"), t("b")))), "argument", "not a character vector of length 2"),
  list("an NA path", quote(export_savedmodel(model, NA_character_)), "argument", "export_dir_base"),
  list("an empty path", quote(export_savedmodel(model, "")), "argument", "non-empty string"),
  list("verbose = 'yes'", quote(export_savedmodel(model, t("m"), verbose = "yes")), "argument", "`verbose` must be `TRUE` or `FALSE`"),
  list("overwrite = NA", quote(export_savedmodel(model, t("m"), overwrite = NA)), "argument", "`overwrite` must be"),
  list("verify = 1", quote(export_savedmodel(model, t("m"), verify = 1)), "argument", "`verify` must be"),
  # format ----
  list("format = 'tflite'", quote(export_savedmodel(model, t("m"), format = "tflite")), "format", "not \"tflite\""),
  list("a misspelt format", quote(export_savedmodel(model, t("m"), format = "saved_model")), "format", "Did you mean \"tf_saved_model\""),
  list("two formats", quote(export_savedmodel(model, t("m"), format = c("onnx", "tf_saved_model"))), "format", "must be one of"),
  # options ----
  list("an unnamed option", quote(export_savedmodel(model, t("m"), 17)), "option", "must be named"),
  list("an ONNX option for a SavedModel", quote(export_savedmodel(model, t("m"), opset_version = 17)), "option", "opset_version do not apply"),
  list("an unknown option", quote(export_savedmodel(model, t("m.onnx"), format = "onnx", colour = "red")), "option", "Options that apply: opset_version"),
  # signatures ----
  list("a fractional dimension", quote(export_savedmodel(model, t("m"), input_signature = c(NA, 2.5))), "signature", "whole numbers"),
  list("a negative dimension", quote(export_savedmodel(model, t("m"), input_signature = c(NA, -4))), "signature", "must be positive"),
  list("an unknown dtype", quote(export_savedmodel(model, t("m"), input_signature = input_spec(c(NA, 4), dtype = "float"))), "signature", "must be one of"),
  list("the wrong rank", quote(export_savedmodel(model, t("m"), input_signature = c(NA, 4, 1))), "signature", "rank"),
  list("a wrong fixed dimension", quote(export_savedmodel(model, t("m"), input_signature = c(NA, 5))), "signature", "(None, 5)"),
  list("a string signature", quote(export_savedmodel(model, t("m"), input_signature = "28x28")), "signature", "cannot describe a model input"),
  list("TRUE as signature", quote(export_savedmodel(model, t("m"), input_signature = TRUE)), "signature", "cannot describe a model input"),
  list("a partly named list", quote(export_savedmodel(model, t("m"), input_signature = list(a = c(NA, 4), c(NA, 4)))), "signature", "fully named"),
  list("an empty list", quote(export_savedmodel(model, t("m"), input_signature = list())), "signature", "empty list"),
  list("names that do not match the model's inputs", quote(export_savedmodel(dict_model(), t("m"), input_signature = list(features = c(NA, 4), tokens = c(NA, 6)))), "signature", "do not match the model's inputs ['features', 'ids']"),
  list("names for a model without named inputs", quote(export_savedmodel(model, t("m"), input_signature = list(x = c(NA, 4), y = c(NA, 4)))), "signature", "dict"),
  list("too many inputs", quote(export_savedmodel(model, t("m"), input_signature = list(c(NA, 4), c(NA, 4)))), "signature", "describes 2 input"),
  list("wrong nesting", quote(export_savedmodel(model, t("m"), input_signature = list(list(list(c(NA, 4)))))), "signature", "nesting"),
  # paths ----
  list("a bad signature under missing directories", quote(export_savedmodel(model, t("no/such/dir/m"), input_signature = c(NA, 5))), "signature", "(None, 5)"),
  list("an existing target", quote(export_savedmodel(model, t("existing"))), "path", "already exists"),
  list("a file where a directory is needed", quote(export_savedmodel(model, t("a_file"), overwrite = TRUE)), "path", "is a file, but this format writes a directory"),
  list("a directory where a file is needed", quote(export_savedmodel(model, t("a_dir.onnx"), format = "onnx", overwrite = TRUE)), "path", "is a directory, but this format writes a file"),
  list("an ONNX target that exists without .onnx", quote(export_savedmodel(model, t("a_file"), format = "onnx")), "path", "already exists"),
  list("a parent that is a file", quote(export_savedmodel(model, t("a_file/m"))), "path", "is a file, not a directory"),
  list("a grandparent that is a file", quote(export_savedmodel(model, t("a_file/sub/m.onnx"), format = "onnx")), "path", "is a file, not a directory")
)

test_that("there are at least 30 bad calls in the table", {
  expect_gte(length(bad_calls), 30)
})

for (row in bad_calls) {
  local({
    row <- row
    test_that(paste("bad call:", row[[1]]), {
      if (!identical(row[[3]], "model") || grepl("Python|never-built", row[[1]])) skip_if_no_keras()
      ws <- local_workspace()
      t <- function(name) file.path(ws, name)
      model <- if (kerasexport:::python_ready()) small_model() else NULL
      unbuilt <- if (kerasexport:::python_ready()) reticulate::import("keras")$Sequential(list(reticulate::import("keras")$layers$Dense(2L))) else NULL
      before <- disk_state(ws)
      err <- expect_error(eval(row[[2]]), class = paste0("kerasexport_", row[[3]], "_error"))
      expect_s3_class(err, "kerasexport_error")
      expect_match(conditionMessage(err), row[[4]], fixed = TRUE)
      expect_identical(disk_state(ws), before)
    })
  })
}

test_that("a read-only location is a path error", {
  skip_if_no_keras()
  skip_if_not(dir.exists("/proc"), "needs a read-only /proc")
  err <- expect_error(
    export_savedmodel(small_model(), "/proc/kerasexport-model.onnx", format = "onnx"),
    class = "kerasexport_path_error"
  )
  expect_match(conditionMessage(err), "writ")
})

test_that("a missing Python package is named with the install call", {
  skip_if_no_keras()
  deps <- reticulate::import("kerasexport.dependencies")
  original <- deps$`_TENSORFLOW`
  withr::defer(reticulate::py_set_attr(deps, "_TENSORFLOW", original))
  reticulate::py_set_attr(deps, "_TENSORFLOW", reticulate::tuple("tensorflow_not_here", "tensorflow-cpu", "write and load SavedModels"))
  ws <- local_workspace()
  before <- disk_state(ws)
  err <- expect_error(export_savedmodel(small_model(), file.path(ws, "m")), class = "kerasexport_dependency_error")
  expect_match(conditionMessage(err), "tensorflow-cpu (to write and load SavedModels)", fixed = TRUE)
  expect_match(conditionMessage(err), "install_kerasexport()", fixed = TRUE)
  expect_identical(disk_state(ws), before)
})

test_that("paths with spaces and non-ASCII characters work", {
  skip_if_no_keras()
  ws <- withr::local_tempfile()
  dir.create(file.path(ws, "mes modèles é"), recursive = TRUE)
  model <- small_model()
  x <- matrix(seq(-1, 1, length.out = 8), nrow = 2)
  for (format in c("onnx", "tf_saved_model")) {
    target <- file.path(ws, "mes modèles é", if (format == "onnx") "modèle 1.onnx" else "modèle 1")
    suppressMessages(export_savedmodel(model, target, format = format))
    expect_lt(relative_error(predict(load_artifact(target), x), model_predict(model, x)), 1e-5)
  }
})

# messages, reviewed as snapshots ----

test_that("key messages read well", {
  skip_if_no_keras()
  ws <- local_workspace()
  model <- small_model()
  hide <- function(x) gsub("(tensorflow|jax|torch) backend", "<backend> backend", gsub(ws, "<ws>", x, fixed = TRUE))
  expect_snapshot(error = TRUE, transform = hide, {
    export_savedmodel(model, file.path(ws, "existing"))
    export_savedmodel(model, file.path(ws, "a_file", "model"))
    export_savedmodel(model, file.path(ws, "m.onnx"), format = "onnx", colour = "red")
    export_savedmodel(model, file.path(ws, "m"), input_signature = c(NA, 5))
  })
})

# quiet by default ----

test_that("a default export prints one line, not a page of logs", {
  skip_if_no_keras()
  format <- if (keras_backend() == "torch") "onnx" else "tf_saved_model"
  stdout_file <- withr::local_tempfile()
  stderr_file <- withr::local_tempfile()
  callr::r(
    function(format) {
      keras <- reticulate::import("keras")
      model <- keras$Sequential(list(keras$Input(shape = list(4L)), keras$layers$Dense(2L)))
      model(reticulate::np_array(matrix(0, 1, 4), dtype = "float32"))
      target <- file.path(tempfile(), if (format == "onnx") "m.onnx" else "m")
      dir.create(dirname(target))
      message("--- export starts")
      cat("--- export starts\n")
      kerasexport::export_savedmodel(model, target, format = format)
      invisible(NULL)
    },
    args = list(format = format),
    stdout = stdout_file, stderr = stderr_file,
    env = c(callr::rcmd_safe_env(), KERAS_BACKEND = keras_backend(), KERASEXPORT_PYTHON = reticulate::py_config()$python)
  )
  after <- function(file) {
    lines <- readLines(file)
    lines <- lines[-seq_len(match("--- export starts", lines))]
    lines[nzchar(lines)]
  }
  expect_identical(after(stdout_file), character())
  err <- after(stderr_file)
  expect_length(err, 1)
  expect_match(err, "^Exported (tf_saved_model|onnx) from the .* backend")
})
