import sys

from wnet_gui.cli.main import main

sys.exit(main())
