test_that("KERASEXPORT_PYTHON wins over everything else", {
  withr::local_envvar(KERASEXPORT_PYTHON = "/opt/python/bin/python3")
  expect_identical(kerasexport:::find_python(), "/opt/python/bin/python3")
})

test_that("RETICULATE_PYTHON is left to reticulate", {
  withr::local_envvar(KERASEXPORT_PYTHON = "", RETICULATE_PYTHON = "/usr/bin/python3", VIRTUAL_ENV = "")
  expect_null(kerasexport:::find_python())
})

test_that("a .venv in a parent directory is found", {
  root <- withr::local_tempfile()
  dir.create(file.path(root, ".venv", "bin"), recursive = TRUE)
  file.create(file.path(root, ".venv", "bin", "python"))
  dir.create(file.path(root, "a", "b"), recursive = TRUE)
  withr::local_envvar(KERASEXPORT_PYTHON = "", RETICULATE_PYTHON = "", VIRTUAL_ENV = "")
  found <- kerasexport:::find_python(file.path(root, "a", "b"))
  expect_identical(normalizePath(found), normalizePath(file.path(root, ".venv", "bin", "python")))
})
