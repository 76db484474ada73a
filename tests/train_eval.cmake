# train_eval.cmake: `lab eval` on a finished run reproduces the run's own final evaluation
# (raw and EMA test errors in summary.json), here with frozen batch norm at the end of training
# and BN statistics recalibrated before each evaluation, so that lab eval must rebuild the
# network, load the weights and the average, and recalibrate over the same batches.
#   cmake -DLAB=path/to/lab -DEXP=experiments/quick.yaml -DOUT=dir -P train_eval.cmake
# 25 test images: every error is a multiple of 4 %, exact in both outputs.
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND ${LAB} train ${EXP} data.train_subset=64 data.test_subset=25 train.epochs=2 train.batch=8
                        train.bn_freeze_epochs=0.5 train.bn_recalibrate=3 --quiet --out ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lab train: exit ${rc}\n${out}\n${err}")
endif()
file(GLOB_RECURSE summary "${OUT}/*/summary.json")
list(LENGTH summary n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one summary.json under ${OUT}, found: ${summary}")
endif()
get_filename_component(run "${summary}" DIRECTORY)
file(READ "${summary}" text)
foreach(key test_top1_error ema_test_top1_error)
  if(NOT text MATCHES "\"${key}\": ([0-9]+)(\\.0*)?[,\n ]")
    message(FATAL_ERROR "${summary}: no whole-number ${key}:\n${text}")
  endif()
  set(want_${key} ${CMAKE_MATCH_1})
endforeach()
execute_process(COMMAND ${LAB} eval ${run} --threads 2 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("$ lab eval ${run}\n${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lab eval: exit ${rc}")
endif()
if(NOT out MATCHES "\t1\t([0-9]+)\\.00\t[0-9.]+\t([0-9]+)\\.00\t")
  message(FATAL_ERROR "lab eval: unexpected output")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL want_test_top1_error OR NOT CMAKE_MATCH_2 STREQUAL want_ema_test_top1_error)
  message(FATAL_ERROR "lab eval gives ${CMAKE_MATCH_1} / ${CMAKE_MATCH_2} (raw / EMA), the run reported "
                      "${want_test_top1_error} / ${want_ema_test_top1_error}")
endif()
