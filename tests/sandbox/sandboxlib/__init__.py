"""The sandbox launcher's library: processes (procs), the world model (world), seeders (seed)."""
