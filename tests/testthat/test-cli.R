test_that("cli_escape() keeps braces in data literal", {
  data <- c("input_{0}", "{not markup}", "plain")
  expect_identical(vapply(cli_escape(data), cli::format_inline, ""), stats::setNames(data, cli_escape(data)))
  expect_identical(cli::format_inline(cli_escape("}}")), "}}")
})
