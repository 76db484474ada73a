# sweep_report_plot.cmake: the main job's chain end to end on a tiny budget: `lab sweep` of two
# rows x two seeds of table3-quick.yaml, run again (nothing retrains), a changed configuration
# (detected by its hash), `lab report` (four tables, the small-scale header, missing rows
# shown as missing) and `lab plot` (eight figures), then a plot whose gnuplot script fails:
# exit non-zero, the previous figures untouched, no temporary folder left behind.
#   cmake -DLAB=path/to/lab -DEXP=experiments/table3-quick.yaml -DPLOTS=plots -DOUT=dir -P sweep_report_plot.cmake
file(REMOVE_RECURSE "${OUT}")
set(dir "${OUT}/table3-quick")

function(lab_run expect_rc)
  execute_process(COMMAND ${LAB} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  list(JOIN ARGN " " shown)
  message("$ lab ${shown}\n${out}${err}--- exit ${rc}")
  if(NOT rc STREQUAL expect_rc)
    message(FATAL_ERROR "exit code ${rc}, expected ${expect_rc}")
  endif()
  set(said "${out}${err}" PARENT_SCOPE)
endfunction()

set(sweep sweep ${EXP} --variant GoogLeNet --variant BN-GoogLeNet --jobs 2 --threads 2 --out ${OUT} seeds=[0,1]
          base.data.train_subset=32 base.data.test_subset=20 base.train.epochs=1 base.train.batch=8)
lab_run(0 ${sweep})
file(GLOB_RECURSE summaries "${dir}/*/summary.json")
list(LENGTH summaries n)
if(NOT n EQUAL 4)
  message(FATAL_ERROR "expected 4 summary.json under ${dir}, found ${n}")
endif()

lab_run(0 ${sweep})
if(NOT said MATCHES "4 finished, 0 diverged \\(kept\\), 0 to resume, 0 to train")
  message(FATAL_ERROR "the second sweep should find all 4 runs finished")
endif()
lab_run(0 ${sweep} base.train.epochs=2 --dry-run)
if(NOT said MATCHES "0 finished.* 4 to train" OR NOT said MATCHES "holds configuration [0-9a-f]+, now [0-9a-f]+: would be moved aside")
  message(FATAL_ERROR "a changed configuration should make every run stale and due to train")
endif()

lab_run(0 report ${dir})
foreach(ext md csv json tex)
  if(NOT EXISTS "${dir}/table.${ext}")
    message(FATAL_ERROR "lab report wrote no table.${ext}")
  endif()
endforeach()
file(READ "${dir}/table.md" table)
if(NOT table MATCHES "Our error columns are not ImageNet numbers"
   OR NOT table MATCHES "\\| 1 \\| GoogLeNet \\|[^\n]*\\| 2/2 \\|"
   OR NOT table MATCHES "\\| 2 \\| BN-GoogLeNet \\|[^\n]*\\| 2/2 \\|"
   OR NOT table MATCHES "\\| 3 \\| BN-Inception \\|[^\n]*\\| missing \\|")
  message(FATAL_ERROR "table.md lacks the header, the two trained rows (2/2) or a missing row:\n${table}")
endif()

lab_run(0 plot ${dir} --scripts ${PLOTS})
foreach(fig cumulative cost_error curves stages)
  foreach(fmt png svg)
    file(SIZE "${dir}/plots/${fig}.${fmt}" size)
    if(size LESS 1000)
      message(FATAL_ERROR "${fig}.${fmt}: ${size} bytes")
    endif()
  endforeach()
endforeach()

# A failing script: the earlier figures stay as they were.
file(SHA256 "${dir}/plots/cumulative.png" before)
file(REMOVE_RECURSE "${OUT}/broken-plots")
file(COPY ${PLOTS}/ DESTINATION "${OUT}/broken-plots")
file(APPEND "${OUT}/broken-plots/stages.gp" "\nthis is not gnuplot\n")
lab_run(1 plot ${dir} --scripts ${OUT}/broken-plots)
file(SHA256 "${dir}/plots/cumulative.png" after)
file(GLOB leftovers "${dir}/plots/.tmp-*")
if(NOT before STREQUAL after OR leftovers)
  message(FATAL_ERROR "a failed lab plot changed cumulative.png or left ${leftovers}")
endif()
