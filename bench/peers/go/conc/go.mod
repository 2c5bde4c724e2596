module gortbench/conc

go 1.19
