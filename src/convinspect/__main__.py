from convinspect.cli import main

main()
