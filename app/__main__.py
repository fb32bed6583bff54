from longhand.cli import main

raise SystemExit(main())
