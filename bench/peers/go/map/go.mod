module gortbench/map

go 1.19
