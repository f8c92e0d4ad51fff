import ArgumentParser
import VLACommands

VLAC.main()
