module gortgolden

go 1.19
