// SimulationDriver
