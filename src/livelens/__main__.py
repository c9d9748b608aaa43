from livelens.cli.main import main

main()
