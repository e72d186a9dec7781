test_that("install_plan() installs pinned torch first, alone", {
  plan <- kerasexport:::install_plan(c("tensorflow", "jax", "torch"))
  expect_named(plan, c("torch", "packages"))
  expect_match(plan$torch, "^torch==")
  expect_true(all(grepl("==", plan$packages)))
  expect_true(any(grepl("^jax2onnx==", plan$packages)))
  expect_true(any(grepl("^tensorflow-cpu==", plan$packages)))
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
