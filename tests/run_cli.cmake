# run_cli.cmake: one `lab` command line as a ctest test, checking its exit code and output
# (ctest's PASS_REGULAR_EXPRESSION alone would ignore the exit code).
#   cmake -DLAB=path/to/lab "-DARGS=bench|train|FILE|--steps|1" -DEXPECT_RC=0
#         [-DEXPECT_OUT=regex] [-DEXPECT_ERR=regex] -P run_cli.cmake
# ARGS is '|'-separated (a ';' list would be split by add_test).
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${LAB} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
list(JOIN args " " shown)
message("$ lab ${shown}\n--- stdout\n${out}--- stderr\n${err}--- exit ${rc}")
if(NOT rc STREQUAL EXPECT_RC)
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECT_RC}")
endif()
if(DEFINED EXPECT_OUT AND NOT out MATCHES "${EXPECT_OUT}")
  message(FATAL_ERROR "stdout does not match '${EXPECT_OUT}'")
endif()
if(DEFINED EXPECT_ERR AND NOT err MATCHES "${EXPECT_ERR}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_ERR}'")
endif()
