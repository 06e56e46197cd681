from convinspect.entry import main

main()
