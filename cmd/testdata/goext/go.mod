module lambdoctor.test/goext

go 1.26
