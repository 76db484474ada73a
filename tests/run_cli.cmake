# run_cli.cmake: one `lab` command line as a ctest test, checking its exit code and output
# (ctest's PASS_REGULAR_EXPRESSION alone would ignore the exit code).
#   cmake -DLAB=path/to/lab "-DARGS=bench|train|FILE|--steps|1" -DEXPECT_RC=0
#         [-DEXPECT_OUT=regex] [-DEXPECT_ERR=regex] -P run_cli.cmake
# ARGS is '|'-separated (a ';' list would be split by add_test).
# Optional: "-DLAUNCH=mpiexec|-n|2" runs lab under that launcher; -DFRESH_DIR=dir is removed
# before the run; -DEXPECT_FILE=path must exist afterwards and match -DEXPECT_FILE_REGEX;
# -DCOUNT_GLOB=pattern must then match exactly -DCOUNT files (recursively).
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" launch "${LAUNCH}")
if(DEFINED FRESH_DIR)
  file(REMOVE_RECURSE "${FRESH_DIR}")
endif()
execute_process(COMMAND ${launch} ${LAB} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
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
if(DEFINED EXPECT_FILE)
  if(NOT EXISTS "${EXPECT_FILE}")
    message(FATAL_ERROR "${EXPECT_FILE} was not written")
  endif()
  file(READ "${EXPECT_FILE}" text)
  if(DEFINED EXPECT_FILE_REGEX AND NOT text MATCHES "${EXPECT_FILE_REGEX}")
    message(FATAL_ERROR "${EXPECT_FILE} does not match '${EXPECT_FILE_REGEX}':\n${text}")
  endif()
endif()
if(DEFINED COUNT_GLOB)
  file(GLOB_RECURSE found "${COUNT_GLOB}")
  list(LENGTH found n)
  if(NOT n EQUAL COUNT)
    message(FATAL_ERROR "${n} files match ${COUNT_GLOB}, expected ${COUNT}: ${found}")
  endif()
endif()
