from ftscen.app.cli import main

main()
