# chipkit: the two set-up commands of the README.
#   make demo   install (system fonts + .venv, with the service) and run the main job on samples/
#   make test   install with test extras and run the whole test suite
.PHONY: demo test setup clean

demo:
	bash scripts/setup.sh serve
	bash scripts/demo.sh

test:
	bash scripts/setup.sh test
	bash scripts/test.sh

clean:
	rm -rf demo-out .pytest_cache .hypothesis
