# keras3 users: models built with keras3's R API, exported by every spelling
# of export_savedmodel(), reloaded with load_artifact() and compared with
# keras3's predict(); keras3-style signatures; keras3's documentation
# examples, verbatim. scripts/test.sh runs this file with keras3 attached
# (`Rscript scripts/testthat.R --keras3 ORDER`) on each backend, in one load
# order here and the other in a fresh R process; elsewhere it skips.

# One skip for the whole file where keras3 is not attached.
if (!"package:keras3" %in% search()) {
  skip("keras3 is not attached: scripts/test.sh runs this file with keras3 from ../shared/r-keras3")
}

# Which package this process loaded first: the later one is higher on the
# search path.
load_order <- function() {
  if (match("package:keras3", search()) < match("package:kerasexport", search())) "kerasexport-first" else "keras3-first"
}

spellings <- c(
  "export_savedmodel", "tensorflow::export_savedmodel",
  "keras3::export_savedmodel", "kerasexport::export_savedmodel"
)

# The function a spelling names for a user at the console: unqualified, it is
# whichever attached package comes first on the search path.
spelled <- function(spelling) eval(parse(text = spelling)[[1]], globalenv())

# Every format kerasexport writes and the core can route on this backend: the
# list grows with `export_formats`.
formats_here <- function() {
  if (!kerasexport:::python_ready()) {
    return(kerasexport:::export_formats)
  }
  core <- kerasexport:::core
  backend <- keras_backend()
  candidates <- intersect(kerasexport:::export_formats, unlist(core$formats$FORMATS))
  Filter(function(format) !inherits(try(core$routes$plan(backend, format), silent = TRUE), "try-error"), candidates)
}

# The format this backend writes natively first (fast, no worker process).
native_format <- function() {
  kerasexport:::core$routes$NATIVE[[keras_backend()]][[1]]
}

# keras3 models, each with a generator of inputs (batch first).
keras3_models <- list(
  sequential = list(
    build = function() {
      keras_model_sequential(input_shape = 8) |>
        layer_dense(16, activation = "relu") |>
        layer_dense(3)
    },
    data = function(n) matrix(runif(n * 8, -1, 1), n, 8)
  ),
  two_inputs = list(
    build = function() {
      a <- keras_input(shape = 4, name = "a")
      b <- keras_input(shape = 3, name = "b")
      out <- layer_concatenate(list(a, b)) |>
        layer_dense(8, activation = "tanh") |>
        layer_dense(2)
      keras_model(list(a, b), out)
    },
    data = function(n) list(a = matrix(runif(n * 4, -1, 1), n, 4), b = matrix(runif(n * 3, -1, 1), n, 3))
  ),
  cnn = list(
    build = function() {
      keras_model_sequential(input_shape = c(12, 12, 1)) |>
        layer_conv_2d(4, 3, activation = "relu") |>
        layer_max_pooling_2d() |>
        layer_flatten() |>
        layer_dense(2)
    },
    data = function(n) array(runif(n * 144), c(n, 12, 12, 1))
  ),
  lstm = list(
    build = function() {
      keras_model_sequential(input_shape = c(6, 3)) |>
        layer_lstm(5) |>
        layer_dense(1)
    },
    data = function(n) array(runif(n * 18, -1, 1), c(n, 6, 3))
  )
)

build_keras3_model <- function(name) {
  set_random_seed(1)
  keras3_models[[name]]$build()
}

# keras3's predict() takes a list of inputs in the model's order.
keras3_predict <- function(model, x) {
  predict(model, if (is.list(x)) unname(x) else x, verbose = 0)
}

expect_kerasexport_export <- function(expr) {
  expect_message(expr, class = "kerasexport_export_message")
}

# every spelling, every format, four models ----
# Each format sees every spelling and every model once: model i is exported
# by spelling i + 2j for format j, so no export is repeated.

formats <- formats_here()
for (j in seq_along(formats)) {
  for (i in seq_along(keras3_models)) {
    local({
      format <- formats[[j]]
      name <- names(keras3_models)[[i]]
      spelling <- spellings[[(i - 1 + 2 * (j - 1)) %% length(spellings) + 1]]
      test_that(sprintf("%s() runs kerasexport's method: %s to %s, predicts as keras3", spelling, name, format), {
        skip_if_no_keras()
        model <- build_keras3_model(name)
        path <- file.path(withr::local_tempdir(), "exported", "model")
        expect_kerasexport_export(model |> spelled(spelling)(path, format = format))

        artifact <- load_artifact(path)
        expect_identical(artifact$format, format)
        x <- keras3_models[[name]]$data(5)
        expect_lt(relative_error(predict(artifact, x), keras3_predict(model, x)), 1e-4)
      })
    })
  }
}

test_that("print() of an artifact from a keras3 model reaches standard output", {
  skip_if_no_keras()
  path <- withr::local_tempfile()
  suppressMessages(build_keras3_model("two_inputs") |> export_savedmodel(path, format = native_format()))
  output <- capture.output(print(load_artifact(path)))
  expect_identical(output[[1]], "<kerasexport_artifact>")
  expect_match(output, "Input a: float32 \\(NA, 4\\)", all = FALSE)
})

# the other load order, in a fresh R process ----
# Which method runs is R's dispatch, not Python's: an object of a Keras
# model's class with a format no method accepts tells them apart without
# starting Python (ours refuses it in R with a kerasexport_format_error;
# keras3's would call the object's `export()`). The exports in this process
# show the same in this order, and scripts/test.sh alternates the orders
# between backends.

test_that("in the other load order too, every spelling runs kerasexport's method, and loading says so", {
  skip_if_no_keras()
  other <- if (load_order() == "keras3-first") "kerasexport-first" else "keras3-first"
  result <- callr::r(
    function(order, spellings) {
      packages <- if (order == "keras3-first") c("keras3", "kerasexport") else c("kerasexport", "keras3")
      startup <- character()
      withCallingHandlers(
        for (package in packages) library(package, character.only = TRUE),
        packageStartupMessage = function(m) {
          startup <<- c(startup, conditionMessage(m))
          invokeRestart("muffleMessage")
        }
      )
      model <- structure(list(), class = c(
        "keras.src.models.sequential.Sequential", "keras.src.models.model.Model", "python.builtin.object"
      ))
      ours <- vapply(spellings, function(spelling) {
        export <- eval(parse(text = spelling)[[1]], globalenv())
        tryCatch(
          export(model, tempfile(), format = "no such format"),
          kerasexport_format_error = function(e) TRUE,
          error = function(e) FALSE
        )
      }, logical(1))
      list(ours = ours, startup = startup)
    },
    args = list(order = other, spellings = spellings)
  )
  expect_identical(result$ours, stats::setNames(rep(TRUE, length(spellings)), spellings))
  startup <- paste(result$startup, collapse = "\n")
  expect_match(startup, "kerasexport's verified export_savedmodel() replaces keras3's", fixed = TRUE)
  expect_match(startup, "model$export(", fixed = TRUE)
})

# keras3-style signatures ----
# A fixed batch size shows that the signature, not the model, set the inputs
# (a KerasTensor's batch is always dynamic, as in Keras's own export).

test_that("input_signature takes keras3's shape(), keras_input() and tf$TensorSpec", {
  skip_if_no_keras()
  model <- build_keras3_model("sequential")
  signatures <- list(
    list(shape(NA, 8)),
    list(shape(3, 8)),
    list(keras_input(shape = 8)),
    list(tensorflow::tf$TensorSpec(shape(5, 8), "float32"))
  )
  expected <- list(c(NA, 8L), c(3L, 8L), c(NA, 8L), c(5L, 8L))
  for (k in seq_along(signatures)) {
    path <- withr::local_tempfile()
    expect_kerasexport_export(model |> export_savedmodel(path, format = native_format(), input_signature = signatures[[k]]))
    artifact <- load_artifact(path)
    input <- artifact$endpoints[[artifact$default_endpoint]]$inputs[[1]]
    expect_identical(input$shape, expected[[k]])
    x <- keras3_models$sequential$data(if (is.na(expected[[k]][[1]])) 2 else expected[[k]][[1]])
    expect_lt(relative_error(predict(artifact, x), keras3_predict(model, x)), 1e-4)
  }
})

test_that("a named list of specs for a list-input model matches by name", {
  skip_if_no_keras()
  model <- build_keras3_model("two_inputs")
  path <- withr::local_tempfile()
  suppressMessages(model |> export_savedmodel(path, format = native_format(), input_signature = list(b = shape(NA, 3), a = shape(NA, 4))))
  x <- keras3_models$two_inputs$data(3)
  expect_lt(relative_error(predict(load_artifact(path), x), keras3_predict(model, x)), 1e-4)
})

# keras3's documentation examples, verbatim, in fresh directories ----
# From keras3's `?export_savedmodel.keras.src.models.model.Model`; only
# `input_data` is ours (the page leaves it to the reader).

test_that("keras3's SavedModel example runs as written", {
  skip_if_no_keras()
  withr::local_dir(withr::local_tempdir())
  if (!"package:tensorflow" %in% search()) withr::defer(detach("package:tensorflow"))
  model <- build_keras3_model("sequential")
  x <- keras3_models$sequential$data(4)
  input_data <- np_array(x, dtype = "float32")

  # Create the artifact
  model |> tensorflow::export_savedmodel("path/to/location")

  # Later, in a different process/environment...
  library(tensorflow)
  reloaded_artifact <- tf$saved_model$load("path/to/location")
  predictions <- reloaded_artifact$serve(input_data)

  expect_lt(relative_error(as.array(predictions), keras3_predict(model, x)), 1e-4)
})

test_that("keras3's ONNX example runs as written", {
  skip_if_no_keras()
  withr::local_dir(withr::local_tempdir())
  model <- build_keras3_model("sequential")
  x <- keras3_models$sequential$data(4)

  # Export the model as a ONNX artifact
  model |> export_savedmodel("path/to/location", format = "onnx")

  # Load the artifact in a different process/environment
  onnxruntime <- reticulate::import("onnxruntime")
  ort_session <- onnxruntime$InferenceSession("path/to/location")
  input_data <- list(np_array(x, dtype = "float32"))
  names(input_data) <- sapply(ort_session$get_inputs(), `[[`, "name")
  predictions <- ort_session$run(NULL, input_data)

  expect_lt(relative_error(predictions[[1]], keras3_predict(model, x)), 1e-4)
  expect_identical(list.files(".", recursive = TRUE, all.files = TRUE), "path/to/location")
})
