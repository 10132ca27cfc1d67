import sys

from wnet_gui.gui.app import main

sys.exit(main())
