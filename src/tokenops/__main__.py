from tokenops.cli.main import main

raise SystemExit(main())
