# Living beside keras3 and tensorflow, without them: the hooks and the
# message. test-keras3.R checks the real thing with keras3 loaded.

test_that("loading sets one hook on tensorflow and one on keras3", {
  ours <- function(pkg) {
    Filter(function(hook) isTRUE(attr(hook, "kerasexport")), getHook(packageEvent(pkg, "onLoad")))
  }
  expect_length(ours("tensorflow"), 1L)
  expect_length(ours("keras3"), 1L)
})

test_that("a hook replaces the one an earlier load set, and leaves others alone", {
  event <- packageEvent("kerasexportnosuchpackage", "onLoad")
  withr::defer(setHook(event, NULL, "replace"))
  setHook(event, function(...) "someone else's")
  calls <- 0
  kerasexport:::on_package_load("kerasexportnosuchpackage", function() calls <<- calls + 1)
  kerasexport:::on_package_load("kerasexportnosuchpackage", function() calls <<- calls + 10)
  hooks <- getHook(event)
  expect_length(hooks, 2L)
  for (hook in hooks) hook("kerasexportnosuchpackage", "")
  expect_identical(calls, 10)
  kerasexport:::on_package_load("kerasexportnosuchpackage", NULL)
  expect_identical(getHook(event)[[1]](), "someone else's")
  expect_length(getHook(event), 1L)
})

test_that("the replacement is announced once per session, as a startup message", {
  announced <- kerasexport:::announced
  before <- announced$keras3
  withr::defer(announced$keras3 <- before)
  announced$keras3 <- NULL

  expect_message(
    kerasexport:::announce_replacement(),
    "export_savedmodel\\(\\) replaces keras3's.*model\\$export\\(",
    class = "packageStartupMessage"
  )
  expect_silent(kerasexport:::announce_replacement())
  announced$keras3 <- NULL
  expect_silent(suppressPackageStartupMessages(kerasexport:::announce_replacement()))
})

test_that("without tensorflow loaded there is no generic to claim yet", {
  skip_if(isNamespaceLoaded("tensorflow"), "tensorflow is loaded in this session")
  expect_false(kerasexport:::claim_export_savedmodel())
})
