module ghostunnel-ts/bench/loadgen

go 1.19
