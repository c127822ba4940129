from sereno.cli import main

main()
