test_that("install_plan() installs pinned torch first, alone", {
  plan <- kerasexport:::install_plan(c("tensorflow", "jax", "torch"))
  expect_named(plan, c("torch", "packages"))
  expect_match(plan$torch, "^torch==")
  expect_true(all(grepl("==", plan$packages)))
  expect_true(any(grepl("^jax2onnx==", plan$packages)))
  expect_true(any(grepl("^tensorflow-cpu==", plan$packages)))
  expect_true(any(grepl("^openvino==", plan$packages)))
  expect_true(any(grepl("^ai-edge-litert==", plan$packages)))
})

test_that("install_plan() leaves out backends not asked for", {
  plan <- kerasexport:::install_plan("tensorflow")
  expect_named(plan, "packages")
  expect_false(any(grepl("^(torch|jax|jaxlib|jax2onnx)==", plan$packages)))
})

test_that("install_kerasexport() rejects unknown backends before doing anything", {
  expect_error(install_kerasexport(backends = "theano"), class = "kerasexport_argument_error")
  expect_snapshot(install_kerasexport(backends = c("jax", "mxnet")), error = TRUE)
})

test_that("the environment is built from the tested Python version when there is one", {
  starters <- data.frame(
    version = c("3.13.0", "3.11.7", "3.11.2"),
    path = c("/py/3.13/bin/python", "/py/3.11.7/bin/python", "/usr/bin/python3.11")
  )
  expect_identical(kerasexport:::pick_python(starters), "/py/3.11.7/bin/python")
})

test_that("without the tested Python version, reticulate chooses, with a warning", {
  starters <- data.frame(version = c("3.13.0", "3.1.1"), path = c("/py/3.13", "/py/3.1"))
  expect_warning(
    expect_null(kerasexport:::pick_python(starters)),
    class = "kerasexport_python_version_warning"
  )
  expect_snapshot(kerasexport:::pick_python(starters))
  expect_warning(expect_null(kerasexport:::pick_python(NULL)), "Found: none")
})

test_that("on this machine, the chosen Python is the tested version", {
  python <- suppressWarnings(kerasexport:::tested_python())
  skip_if(is.null(python), "no Python 3.11 on this machine")
  version <- system2(python, "--version", stdout = TRUE, stderr = TRUE)
  expect_match(version, "^Python 3[.]11[.]")
})
