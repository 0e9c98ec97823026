from ftscen.cli import main

main()
