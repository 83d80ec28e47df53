from qingling.cli import main

raise SystemExit(main())
