# OpenVINO, LiteRT and .pt2 from R: export, load_artifact() and predict()
# in a fresh session, and OpenVINO's .xml/.bin pair.

new_formats <- c(openvino = ".xml", litert = ".tflite", torch = ".pt2")

# A list of two inputs (float "a", int32 "b") and dict outputs "y" and "z".
formats_model <- function() {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(2L)
  a <- keras$Input(shape = list(4L), name = "a")
  b <- keras$Input(shape = list(3L), name = "b", dtype = "int32")
  embedded <- keras$layers$Flatten()(keras$layers$Embedding(10L, 2L)(b))
  hidden <- keras$layers$Concatenate()(list(keras$layers$Dense(5L, activation = "tanh")(a), embedded))
  keras$Model(
    list(a, b),
    list(y = keras$layers$Dense(2L, name = "y")(hidden), z = keras$layers$Dense(1L, name = "z")(hidden))
  )
}

formats_inputs <- function(rows) {
  list(
    a = matrix(seq(-1, 1, length.out = rows * 4), rows, 4),
    b = matrix(rep_len(c(0L, 3L, 9L, 5L), rows * 3), rows, 3)
  )
}

formats_outputs <- function(model, x) {
  np <- reticulate::import("numpy", convert = FALSE)
  keras <- reticulate::import("keras", convert = FALSE)
  out <- model(list(np$asarray(x$a, dtype = "float32"), np$asarray(x$b, dtype = "int32")), training = FALSE)
  reticulate::py_to_r(keras$tree$map_structure(keras$ops$convert_to_numpy, out))
}

test_that("each new format exports from R and predicts like the model in a fresh session", {
  skip_if_no_keras()
  skip_if_not_installed("callr")
  model <- formats_model()
  dir <- withr::local_tempdir()
  paths <- vapply(names(new_formats), function(format) {
    path <- file.path(dir, paste0("model", new_formats[[format]]))
    expect_message(export_savedmodel(model, path, format = format), paste("Exported", format))
    path
  }, "")
  x <- formats_inputs(5)
  fresh <- callr::r(function(paths, x) {
    lapply(paths, function(path) {
      artifact <- kerasexport::load_artifact(path)
      list(
        format = artifact$format,
        by_position = predict(artifact, unname(x)),
        by_name = predict(artifact, rev(x)),
        in_batches = predict(artifact, x, batch_size = 2),
        heavy = intersect(c("tensorflow", "keras", "jax", "torch"), names(reticulate::import("sys")$modules))
      )
    })
  }, args = list(as.list(paths), x))
  expected <- formats_outputs(model, x)
  for (i in seq_along(new_formats)) {
    format <- names(new_formats)[[i]]
    got <- fresh[[i]]
    expect_identical(got$format, format)
    for (result in got[c("by_position", "by_name", "in_batches")]) {
      expect_named(result, c("y", "z"), ignore.order = TRUE)
      expect_equal(dim(result$y), c(5L, 2L))
      expect_lt(relative_error(result$y, expected$y), 1e-5)
      expect_lt(relative_error(result$z, expected$z), 1e-5)
    }
    expect_identical(got$heavy, if (format == "torch") "torch" else character())
  }
})

test_that("load_artifact() recognises a LiteRT file without its suffix and runs a batch of one in rows", {
  skip_unless_backend("tensorflow") # TensorFlow converts LiteRT from every backend
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(3L)
  # Over an unknown number of steps the LSTM cannot be unrolled: a batch of one.
  model <- keras$Sequential(list(
    keras$Input(shape = list(NULL, 2L)),
    keras$layers$Bidirectional(keras$layers$LSTM(3L)),
    keras$layers$Dense(2L)
  ))
  path <- withr::local_tempfile()
  expect_warning(
    suppressMessages(export_savedmodel(model, path, format = "litert")),
    "fixed batch size of 1",
    class = "kerasexport_warning"
  )
  artifact <- load_artifact(path)
  expect_identical(artifact$format, "litert")
  x <- array(seq(-1, 1, length.out = 5 * 6 * 2), c(5, 6, 2))
  expect_lt(relative_error(predict(artifact, x), model_predict(model, x)), 1e-5)
})

# OpenVINO's .xml/.bin pair ----

ov_model <- function(seed) {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(as.integer(seed))
  keras$Sequential(list(
    keras$Input(shape = list(4L)),
    keras$layers$Dense(16L, activation = "tanh"),
    keras$layers$Dense(3L, activation = "softmax")
  ))
}

pair_bytes <- function(dir) {
  list(
    xml = readBin(file.path(dir, "model.xml"), "raw", 1e7),
    bin = readBin(file.path(dir, "model.bin"), "raw", 1e7)
  )
}

test_that("overwriting an OpenVINO IR replaces the .xml and the .bin together", {
  skip_unless_backend("torch") # the pair behaves the same from every backend
  dir <- withr::local_tempdir()
  path <- file.path(dir, "model.xml")
  suppressMessages(export_savedmodel(ov_model(1), path, format = "openvino"))
  old <- pair_bytes(dir)
  new_model <- ov_model(2)
  suppressMessages(export_savedmodel(new_model, path, format = "openvino", overwrite = TRUE))
  new <- pair_bytes(dir)
  expect_false(identical(old$bin, new$bin))
  expect_setequal(list.files(dir, all.files = TRUE, no.. = TRUE), c("model.xml", "model.bin"))
  x <- matrix(seq(-1, 1, length.out = 12), 3, 4)
  expect_lt(relative_error(predict(load_artifact(path), x), model_predict(new_model, x)), 1e-5)
})

test_that("a failed OpenVINO export leaves the old .xml and .bin as they were", {
  skip_unless_backend("torch")
  dir <- withr::local_tempdir()
  path <- file.path(dir, "model.xml")
  suppressMessages(export_savedmodel(ov_model(1), path, format = "openvino"))
  old <- pair_bytes(dir)
  # rtol = 0: the runtimes round differently, so verification fails.
  expect_error(
    export_savedmodel(ov_model(2), path, format = "openvino", overwrite = TRUE, rtol = 0),
    class = "kerasexport_verification_error"
  )
  expect_identical(pair_bytes(dir), old)
  expect_setequal(list.files(dir, all.files = TRUE, no.. = TRUE), c("model.xml", "model.bin"))
})

test_that("an OpenVINO target named like its weights file is refused", {
  skip_unless_backend("torch")
  dir <- withr::local_tempdir()
  expect_error(
    export_savedmodel(ov_model(1), file.path(dir, "model.bin"), format = "openvino"),
    class = "kerasexport_path_error"
  )
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), character())
})

test_that("a weights file in the way says how to replace it in R's words", {
  skip_unless_backend("torch")
  dir <- withr::local_tempdir()
  writeLines("old", file.path(dir, "model.bin"))
  err <- expect_error(
    export_savedmodel(ov_model(1), file.path(dir, "model.xml"), format = "openvino"),
    class = "kerasexport_path_error"
  )
  expect_match(conditionMessage(err), "'model.bin' beside 'model.xml'", fixed = TRUE)
  expect_match(conditionMessage(err), "In R: pass `overwrite = TRUE` to replace it.", fixed = TRUE)
  expect_identical(readLines(file.path(dir, "model.bin")), "old")
})
