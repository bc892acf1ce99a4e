module echo_go

go 1.19
