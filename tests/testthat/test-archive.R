# the plan is an ordinary R value (no Python needed) ----

test_that("export_archive() starts an empty archive", {
  archive <- export_archive()
  expect_true(is_archive(archive))
  expect_false(is_archive(list()))
  expect_length(archive$endpoints, 0)
  expect_length(archive$resources, 0)
  expect_length(archive$variable_collections, 0)
})

test_that("verbs return a new archive invisibly and leave the old one as it was", {
  first <- export_archive()
  result <- withVisible(add_endpoint(first, "serve", \(x) x, input_spec(c(NA, 3))))
  expect_false(result$visible)
  expect_true(is_archive(result$value))
  expect_named(result$value$endpoints, "serve")
  expect_length(first$endpoints, 0)
})

test_that("endpoints keep their order, name, function and signature", {
  f <- \(x) x
  g <- \(x) -x
  archive <- export_archive() |>
    add_endpoint("b_first", f, c(NA, 3)) |>
    add_endpoint("a_second", g, list(x1 = input_spec(c(NA, 3)), x2 = c(NA, 4)))
  expect_named(archive$endpoints, c("b_first", "a_second"))
  expect_identical(archive$endpoints$a_second$fn, g)
  expect_identical(archive$endpoints$b_first$input_signature, c(NA, 3))
})

test_that("verbs check that they got an archive", {
  expect_error(add_endpoint(list(), "serve", \(x) x, c(NA, 3)), class = "kerasexport_argument_error")
  expect_snapshot(write_out("archive", "path"), error = TRUE)
})

test_that("a repeated endpoint name is an endpoint error", {
  archive <- export_archive() |> add_endpoint("serve", \(x) x, input_spec(c(NA, 3)))
  expect_error(
    add_endpoint(archive, "serve", \(x) x, input_spec(c(NA, 3))),
    class = "kerasexport_endpoint_error"
  )
  expect_snapshot(add_endpoint(archive, "serve", \(x) x, input_spec(c(NA, 3))), error = TRUE)
})

test_that("names that cannot be attributes of the SavedModel are endpoint errors", {
  archive <- export_archive()
  for (name in c("2fast", "has-dash", "_private", "class", "variables", "signatures")) {
    expect_error(add_endpoint(archive, name, \(x) x, c(NA, 3)), class = "kerasexport_endpoint_error")
  }
  expect_error(add_endpoint(archive, c("a", "b"), \(x) x, c(NA, 3)), class = "kerasexport_argument_error")
  expect_snapshot(add_endpoint(archive, "variables", \(x) x, c(NA, 3)), error = TRUE)
})

test_that("an R function without input_signature is a signature error", {
  expect_error(add_endpoint(export_archive(), "serve", \(x) x), class = "kerasexport_signature_error")
  expect_snapshot(add_endpoint(export_archive(), "serve", \(x) x), error = TRUE)
})

test_that("a malformed input_signature is a signature error", {
  archive <- export_archive()
  bad <- list(c(NA, 2.5), c(NA, -1), list(), list(a = c(NA, 3), c(NA, 4)), "x", list(list(c(NA, 3), "y")))
  for (signature in bad) {
    expect_error(add_endpoint(archive, "serve", \(x) x, signature), class = "kerasexport_signature_error")
  }
  expect_snapshot(add_endpoint(archive, "serve", \(x) x, list(c(NA, 3), c(NA, 0.5))), error = TRUE)
})

test_that("an R function given more or fewer specs than it takes arguments is a signature error", {
  expect_error(add_endpoint(export_archive(), "serve", \(x) x, list(c(NA, 3), c(NA, 4))), class = "kerasexport_signature_error")
  expect_error(add_endpoint(export_archive(), "serve", \(a, b) a, c(NA, 3)), class = "kerasexport_signature_error")
  expect_snapshot(add_endpoint(export_archive(), "serve", \(x) x, list(c(NA, 3), c(NA, 4))), error = TRUE)
})

test_that("`...` takes extra specs and arguments with defaults may be left without one", {
  archive <- export_archive() |>
    add_endpoint("dots", \(x, ...) x, list(c(NA, 3), c(NA, 4))) |>
    add_endpoint("default", \(x, scale = 2) x * scale, c(NA, 3))
  expect_named(archive$endpoints, c("dots", "default"))
})

test_that("fn must be a function", {
  expect_error(add_endpoint(export_archive(), "serve", "model", c(NA, 3)), class = "kerasexport_endpoint_error")
})

test_that("options in ... are named and known", {
  archive <- export_archive()
  expect_error(add_endpoint(archive, "serve", \(x) x, c(NA, 3), TRUE), class = "kerasexport_option_error")
  expect_error(add_endpoint(archive, "serve", \(x) x, c(NA, 3), opset_version = 17), class = "kerasexport_option_error")
  expect_error(add_endpoint(archive, "serve", \(x) x, c(NA, 3), reference = "model"), class = "kerasexport_option_error")
})

test_that("write_out() without an endpoint is an endpoint error and writes nothing", {
  dir <- withr::local_tempdir()
  expect_error(write_out(export_archive(), file.path(dir, "model")), class = "kerasexport_endpoint_error")
  expect_snapshot(write_out(export_archive(), file.path(dir, "model")), error = TRUE)
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), character())
})

test_that("print() shows endpoints, signatures and the serving_default", {
  archive <- export_archive() |>
    add_endpoint("call_inference", \(x) x, input_spec(c(NA, 3))) |>
    add_endpoint("pair", \(a, b) a + b, list(c(NA, 3), input_spec(c(NA, 3), dtype = "float64"))) |>
    add_endpoint("named", \(x) x, list(list(x1 = c(NA, 3), x2 = input_spec(c(NA, 4), dtype = "int32"))))
  expect_snapshot(print(archive))
  expect_snapshot(print(export_archive()))
})

test_that("print() of an archive writes to standard output", {
  expect_silent(output <- capture.output(print(export_archive())))
  expect_identical(output[[1]], "<kerasexport_archive>")
  expect_match(output, "Endpoints: none yet", all = FALSE)
})

# Keras's examples, written and reloaded ----

np <- function() reticulate::import("numpy", convert = FALSE)

as_float32 <- function(x) np()$asarray(x, dtype = "float32")

# What a reloaded endpoint returns, as an R array.
endpoint_output <- function(loaded, name, ...) {
  reticulate::py_to_r(np()$asarray(reticulate::py_get_attr(loaded, name)(...)))
}

# Call `serving_default` as TF-Serving does: by input name.
serving_default_output <- function(loaded, x) {
  signature <- loaded$signatures[["serving_default"]]
  input_name <- names(signature$structured_input_signature[[2]])[[1]]
  feed <- stats::setNames(list(as_float32(x)), input_name)
  outputs <- do.call(signature, feed)
  outputs[[1]]$numpy()
}

reload <- function(path) reticulate::import("tensorflow")$saved_model$load(path)

# The signature keys of a reloaded SavedModel (a Python mapping).
signature_keys <- function(loaded) {
  builtins <- reticulate::import_builtins()
  as.character(builtins$list(loaded$signatures$keys()))
}

features <- function(rows, cols, seed = 1) {
  matrix(sin(seq_len(rows * cols) * seed), nrow = rows, ncol = cols)
}

dropout_model <- function() {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(2L)
  keras$Sequential(list(
    keras$Input(shape = list(3L)),
    keras$layers$Dense(8L, activation = "relu"),
    keras$layers$Dropout(0.5),
    keras$layers$Dense(2L)
  ), name = "dropout_model")
}

test_that("one serve endpoint reproduces the model, also as serving_default", {
  skip_unless_backend(c("tensorflow", "jax"))
  model <- small_model(3L)
  path <- file.path(withr::local_tempdir(), "model")
  expect_message(
    result <- withVisible(
      export_archive() |>
        track(model) |>
        add_endpoint("serve", model$call, input_spec(c(NA, 3))) |>
        write_out(path)
    ),
    "verified serve",
    class = "kerasexport_archive_message"
  )
  expect_false(result$visible)
  expect_true(is_archive(result$value))

  loaded <- reload(path)
  expect_setequal(signature_keys(loaded), c("serve", "serving_default"))
  for (rows in c(1, 6)) {
    x <- features(rows, 3, seed = rows)
    expect_lt(relative_error(endpoint_output(loaded, "serve", as_float32(x)), model_predict(model, x)), 1e-5)
    expect_lt(relative_error(serving_default_output(loaded, x), model_predict(model, x)), 1e-5)
  }
  expect_length(loaded$variables, length(model$variables))
})

test_that("call_inference matches the model; call_training has dropout on", {
  skip_unless_backend(c("tensorflow", "jax"))
  model <- dropout_model()
  path <- file.path(withr::local_tempdir(), "model")
  expect_message(
    export_archive() |>
      track(model) |>
      add_endpoint("call_inference", \(x) model(x, training = FALSE), input_spec(c(NA, 3)), reference = model) |>
      add_endpoint("call_training", \(x) model(x, training = TRUE), input_spec(c(NA, 3))) |>
      write_out(path),
    "verified call_inference.*not verified: call_training"
  )
  loaded <- reload(path)
  expect_true(all(c("call_inference", "call_training", "serving_default") %in% signature_keys(loaded)))
  x <- features(16, 3)
  expected <- model_predict(model, x)
  expect_lt(relative_error(endpoint_output(loaded, "call_inference", as_float32(x)), expected), 1e-5)
  expect_lt(relative_error(serving_default_output(loaded, x), expected), 1e-5)
  training <- endpoint_output(loaded, "call_training", as_float32(x))
  expect_equal(dim(training), dim(expected))
  expect_gt(max(abs(training - expected)), 1e-3)
})

test_that("an endpoint with two positional inputs", {
  skip_unless_backend(c("tensorflow", "jax"))
  main <- reticulate::py_run_string("
import keras

class TwoArguments(keras.Model):
    def __init__(self):
        super().__init__()
        self.left = keras.layers.Dense(2)
        self.right = keras.layers.Dense(2)

    def call(self, x1, x2):
        return self.left(x1) + self.right(x2)
", convert = FALSE)
  reticulate::import("keras")$utils$set_random_seed(3L)
  model <- main$TwoArguments()
  model(as_float32(features(2, 3)), as_float32(features(2, 4)))
  path <- file.path(withr::local_tempdir(), "model")
  suppressMessages(
    export_archive() |>
      track(model) |>
      add_endpoint("serve", model$call, list(input_spec(c(NA, 3)), input_spec(c(NA, 4)))) |>
      write_out(path)
  )
  loaded <- reload(path)
  expect_true("serving_default" %in% signature_keys(loaded))
  x1 <- as_float32(features(5, 3))
  x2 <- as_float32(features(5, 4, seed = 2))
  expected <- reticulate::py_to_r(np()$asarray(model(x1, x2, training = FALSE)))
  expect_lt(relative_error(endpoint_output(loaded, "serve", x1, x2), expected), 1e-5)
})

two_input_model <- function(as_dict) {
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(4L)
  x1 <- keras$Input(shape = list(3L), name = "x1")
  x2 <- keras$Input(shape = list(4L), name = "x2")
  outputs <- keras$layers$Dense(2L)(keras$layers$Concatenate()(list(x1, x2)))
  inputs <- if (as_dict) list(x1 = x1, x2 = x2) else list(x1, x2)
  keras$Model(inputs = inputs, outputs = outputs)
}

# Writes a `serve` endpoint of `model$call` with `signature`, reloads it with
# TensorFlow, and compares it with the model on `inputs` (a list or a dict).
expect_serve_endpoint_reproduces <- function(model, signature, inputs) {
  path <- file.path(withr::local_tempdir(), "model")
  expect_message(
    export_archive() |>
      track(model) |>
      add_endpoint("serve", model$call, signature) |>
      write_out(path),
    "verified serve"
  )
  loaded <- reload(path)
  expect_true("serving_default" %in% signature_keys(loaded))
  expected <- reticulate::py_to_r(np()$asarray(model(inputs, training = FALSE)))
  expect_lt(relative_error(endpoint_output(loaded, "serve", inputs), expected), 1e-5)
}

# The two inputs of `two_input_model()`: a list, or a Python dict by name.
two_input_arrays <- function(as_dict) {
  arrays <- list(as_float32(features(4, 3)), as_float32(features(4, 4, seed = 3)))
  if (as_dict) reticulate::py_dict(c("x1", "x2"), arrays) else arrays
}

test_that("a Functional model with a list of two inputs", {
  skip_unless_backend(c("tensorflow", "jax"))
  expect_serve_endpoint_reproduces(
    two_input_model(as_dict = FALSE),
    list(list(input_spec(c(NA, 3)), input_spec(c(NA, 4)))),
    two_input_arrays(as_dict = FALSE)
  )
})

test_that("a Functional model with dict inputs", {
  skip_unless_backend(c("tensorflow", "jax"))
  expect_serve_endpoint_reproduces(
    two_input_model(as_dict = TRUE),
    list(x1 = input_spec(c(NA, 3)), x2 = input_spec(c(NA, 4))),
    two_input_arrays(as_dict = TRUE)
  )
})

test_that("dict inputs as Keras's example writes them: a list holding a named list", {
  skip_unless_backend(c("tensorflow", "jax"))
  expect_serve_endpoint_reproduces(
    two_input_model(as_dict = TRUE),
    list(list(x1 = input_spec(c(NA, 3)), x2 = input_spec(c(NA, 4)))),
    two_input_arrays(as_dict = TRUE)
  )
})

test_that("an endpoint from a traced tf.function", {
  skip_unless_backend("tensorflow")
  tf <- reticulate::import("tensorflow")
  model <- small_model(3L)
  serving_fn <- tf$`function`(\(x) model(x))
  serving_fn(tf$random$normal(shape = c(2L, 3L)))
  path <- file.path(withr::local_tempdir(), "model")
  expect_message(
    export_archive() |>
      track(model) |>
      add_endpoint("serve", serving_fn, reference = model) |>
      write_out(path),
    "verified serve"
  )
  loaded <- reload(path)
  expect_true("serving_default" %in% signature_keys(loaded))
  x <- features(2, 3)
  expect_lt(relative_error(endpoint_output(loaded, "serve", as_float32(x)), model_predict(model, x)), 1e-5)
})

test_that("a variable collection is read back after reloading", {
  skip_unless_backend(c("tensorflow", "jax"))
  model <- small_model(3L)
  model$compile(optimizer = "adam", loss = "mse")
  model$fit(as_float32(features(8, 3)), as_float32(features(8, 3, seed = 5)), epochs = 1L, verbose = 0L)
  path <- file.path(withr::local_tempdir(), "model")
  suppressMessages(
    export_archive() |>
      track(model) |>
      add_endpoint("serve", model$call, input_spec(c(NA, 3))) |>
      add_variable_collection("optimizer_variables", model$optimizer$variables) |>
      write_out(path)
  )
  loaded <- reload(path)
  revived <- reticulate::import_builtins()$list(loaded$optimizer_variables) # an R list
  expected <- lapply(model$optimizer$variables, \(v) reticulate::py_to_r(np()$asarray(v$value)))
  expect_gt(length(expected), 2)
  expect_length(revived, length(expected))
  for (i in seq_along(expected)) {
    expect_equal(as.vector(revived[[i]]$numpy()), as.vector(expected[[i]]), tolerance = 1e-6)
  }
  expect_true(any(vapply(expected[-(1:2)], \(w) any(w != 0), logical(1)))) # trained moments
})

test_that("a StringLookup model keeps its vocabulary", {
  skip_unless_backend("tensorflow")
  keras <- reticulate::import("keras")
  keras$utils$set_random_seed(6L)
  inputs <- keras$Input(shape = list(2L), dtype = "string")
  indices <- keras$layers$StringLookup(vocabulary = c("a", "b", "c"))(inputs)
  outputs <- keras$layers$Flatten()(keras$layers$Embedding(5L, 3L)(indices))
  model <- keras$Model(inputs, outputs)
  path <- file.path(withr::local_tempdir(), "model")
  expect_message(
    export_archive() |>
      track(model) |>
      add_endpoint("serve", model$call, input_spec(c(NA, 2), dtype = "string")) |>
      write_out(path),
    "verified serve"
  )
  loaded <- reload(path)
  expect_true("serving_default" %in% signature_keys(loaded))
  x <- np()$array(list(list("a", "c"), list("zzz", "b")), dtype = "object")
  expected <- reticulate::py_to_r(np()$asarray(model(x, training = FALSE)))
  expect_lt(relative_error(endpoint_output(loaded, "serve", x), expected), 1e-6)
  # "zzz" is out of vocabulary: it embeds like any other unknown token.
  unknown <- endpoint_output(loaded, "serve", np()$array(list(list("zzz", "yyy")), dtype = "object"))
  expect_equal(unknown[1, 1:3], unknown[1, 4:6])
  expect_gt(max(abs(unknown[1, 1:3] - expected[1, 1:3])), 0)
})

test_that("R functions whose arguments Python cannot name are exported", {
  skip_unless_backend(c("tensorflow", "jax"))
  model <- small_model(3L)
  path <- file.path(withr::local_tempdir(), "model")
  expect_message(
    export_archive() |>
      add_endpoint("dotted", \(input.data) model(input.data), input_spec(c(NA, 3)), reference = model) |>
      add_endpoint("dots", \(...) model(...), input_spec(c(NA, 3)), reference = model) |>
      write_out(path),
    "verified dotted, dots"
  )
  loaded <- reload(path)
  x <- features(4, 3)
  for (name in c("dotted", "dots")) {
    expect_lt(relative_error(endpoint_output(loaded, name, as_float32(x)), model_predict(model, x)), 1e-5)
  }
})

# the archive as an artifact ----

test_that("load_artifact() lists every endpoint of an archive and predict() calls each", {
  skip_unless_backend(c("tensorflow", "jax"))
  model <- dropout_model()
  path <- file.path(withr::local_tempdir(), "model")
  suppressMessages(
    export_archive() |>
      track(model) |>
      add_endpoint("call_inference", model$call, input_spec(c(NA, 3))) |>
      add_endpoint("call_training", \(x) model(x, training = TRUE), input_spec(c(NA, 3))) |>
      write_out(path)
  )
  artifact <- load_artifact(path)
  expect_setequal(names(artifact$endpoints), c("call_inference", "call_training", "serving_default"))
  expect_identical(artifact$default_endpoint, "serving_default")
  expect_identical(artifact$endpoints$serving_default$same_as, "call_inference")
  expect_null(artifact$endpoints$call_training$same_as)
  x <- features(16, 3)
  expected <- model_predict(model, x)
  expect_lt(relative_error(predict(artifact, x), expected), 1e-5) # the first endpoint
  expect_lt(relative_error(predict(artifact, x, endpoint = "call_inference"), expected), 1e-5)
  training <- predict(artifact, x, endpoint = "call_training")
  expect_equal(dim(training), dim(expected))
  expect_gt(max(abs(training - expected)), 1e-3) # dropout is on
})

# errors found when writing: classed, nothing on disk ----

test_that("a signature that does not fit the model is a signature error; nothing written", {
  skip_unless_backend(c("tensorflow", "jax"))
  model <- small_model(3L)
  dir <- withr::local_tempdir()
  archive <- export_archive() |> add_endpoint("serve", model$call, input_spec(c(NA, 5)))
  expect_error(write_out(archive, file.path(dir, "model")), class = "kerasexport_signature_error")
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), character())
})

test_that("an endpoint that does not reproduce its reference fails and keeps the old artifact", {
  skip_unless_backend(c("tensorflow", "jax"))
  model <- dropout_model()
  dir <- withr::local_tempdir()
  path <- file.path(dir, "model")
  suppressMessages(export_archive() |> add_endpoint("serve", model) |> write_out(path))
  before <- list.files(path, recursive = TRUE)
  wrong <- export_archive() |>
    add_endpoint("serve", \(x) model(x, training = TRUE), input_spec(c(NA, 3)), reference = model)
  expect_error(write_out(wrong, path, overwrite = TRUE), class = "kerasexport_verification_error")
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), "model")
  expect_identical(list.files(path, recursive = TRUE), before)
  expect_setequal(signature_keys(reload(path)), c("serve", "serving_default"))
})

test_that("an existing target is a path error", {
  skip_unless_backend(c("tensorflow", "jax"))
  dir <- withr::local_tempdir()
  archive <- export_archive() |> add_endpoint("serve", small_model(3L))
  expect_error(write_out(archive, dir), class = "kerasexport_path_error")
})

test_that("an archive on PyTorch is built by the TensorFlow worker and verified", {
  skip_unless_backend("torch")
  model <- dropout_model()
  path <- file.path(withr::local_tempdir(), "model")
  expect_message(
    export_archive() |>
      track(model) |>
      add_endpoint("serve", model, input_spec(c(NA, 3))) |>
      add_endpoint("call_inference", model$call) |>
      add_endpoint("call_training", model$call, input_spec(c(NA, 3)), training = TRUE) |>
      add_variable_collection("model_weights", model$weights) |>
      write_out(path),
    "by the cross-backend route; verified serve, call_inference.*not verified: call_training",
    class = "kerasexport_archive_message"
  )
  loaded <- reload(path)
  x <- features(16, 3)
  expected <- model_predict(model, x)
  expect_lt(relative_error(endpoint_output(loaded, "serve", as_float32(x)), expected), 1e-5)
  expect_lt(relative_error(endpoint_output(loaded, "call_inference", as_float32(x)), expected), 1e-5)
  expect_lt(relative_error(serving_default_output(loaded, x), expected), 1e-5)
  expect_gt(max(abs(endpoint_output(loaded, "call_training", as_float32(x)) - expected)), 1e-3)
  expect_length(loaded$model_weights, length(model$weights))
})

test_that("on PyTorch an R function endpoint is an endpoint error naming it", {
  skip_unless_backend("torch")
  model <- small_model(3L)
  dir <- withr::local_tempdir()
  archive <- export_archive() |> add_endpoint("scaled", \(x) model(x) * 2, c(NA, 3))
  expect_error(
    write_out(archive, file.path(dir, "model")),
    "Endpoint 'scaled': an R function is not supported on the PyTorch backend",
    class = "kerasexport_endpoint_error"
  )
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), character())
})

test_that("training = applies to a model or its call method only", {
  expect_error(
    add_endpoint(export_archive(), "serve", \(x) x, c(NA, 3), training = TRUE),
    class = "kerasexport_option_error"
  )
  expect_error(
    add_endpoint(export_archive(), "serve", \(x) x, c(NA, 3), training = "yes"),
    class = "kerasexport_argument_error"
  )
})

test_that("print() names tracked models and model endpoints", {
  skip_if_no_keras()
  keras <- reticulate::import("keras")
  model <- keras$Sequential(list(keras$Input(shape = list(3L)), keras$layers$Dense(2L)), name = "classifier")
  archive <- export_archive() |>
    track(model) |>
    add_endpoint("serve", model$call) |>
    add_endpoint("serve_r", \(x) model(x), c(NA, 3), reference = model) |>
    add_variable_collection("weights", model$weights)
  expect_snapshot(print(archive))
})
