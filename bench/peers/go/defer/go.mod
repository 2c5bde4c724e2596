module gortbench/defer

go 1.19
