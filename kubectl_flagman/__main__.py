from kubectl_flagman.cli import main

main()
